"""总览: the relationship dashboard, its CSV exports, the buyers behind a figure, 存为分群.

``/admin/`` shows the period chosen in the range picker (GET parameters ``range`` = a preset
of ``insights.periods.PRESETS`` or ``custom`` with ``from``/``to``, and ``granularity``), so
a view is a link; htmx swaps only ``#dashboard`` and pushes the URL. The figures are
``insights.dashboard.dashboard`` (the same call as ``GET /api/dashboard``), shaped for the
page by ``console.dashboard_view``. ``/admin/dashboard.csv?chart=…`` exports one chart's table,
``/admin/dashboard/buyers?figure=…`` pages the buyers behind a figure
(``insights.drill.figure_buyers``), and a POST there saves it as a segment where the segment
language can say it (``insights.drill.segment_for``). Bad parameters get a Chinese message on
the page (status 400), never a 500.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.dashboard_view import FIGURE_LABELS, kpi_cards, table_csv, tables
from console.queries.dashboard import buyer_rows, setup_state
from console.registry import PageRoutes
from console.rendering import render
from insights.dashboard import dashboard as dashboard_figures
from insights.dashboard import tier_ranks
from insights.drill import MAX_LIMIT, DrillError, FigureRef, figure_buyers, segment_for
from insights.periods import (
    GRANULARITIES,
    PRESETS,
    DateRange,
    PeriodError,
    buckets,
    parse_range,
    preset,
)
from insights.reorder_due import reorder_due
from scheduler.saved_segments import SegmentExists, create_segment
from scheduler.segments import SegmentError

page = PageRoutes()
PAGE_SIZE = 50
GRANULARITY_LABELS = {"day": "按日", "week": "按周", "month": "按月"}
FIELD_MESSAGES = {
    "range": "请选择今天、近7天、近30天、本月、上月或自定义。",
    "from": "开始日期格式应为 2026-05-01。",
    "to": "结束日期格式应为 2026-05-18，且不早于开始日期。",
    "granularity": "请选择按日、按周或按月；按日最多约一年，更长请按周或按月。",
    "month": "首单月格式应为 2026-05。",
    "k": "月份序号应为 0 到 11。",
    "stage": "阶段无效。",
    "step": "缺少问题。",
    "field": "字段无效。",
    "tier": "缺少等级。",
    "campaign_id": "活动编号无效。",
    "figure": "没有这个指标。",
    "after": "翻页参数无效。",
}


class BadInput(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(FIELD_MESSAGES.get(field, "参数无效。"))
        self.field = field


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.config_dict[CONFIG].dashboard.timezone)


def _today(request: web.Request) -> date:
    return request.config_dict[CLOCK].now().astimezone(_tz(request)).date()


def _view(request: web.Request) -> tuple[str, DateRange, str]:
    """(range key, period, granularity) from the query; BadInput naming the field."""
    q = request.query
    key = q.get("range", "30d")[:16]
    granularity = q.get("granularity", "day")[:8]
    if granularity not in GRANULARITIES:
        raise BadInput("granularity")
    try:
        if key == "custom":
            period = parse_range(q.get("from", "")[:10], q.get("to", "")[:10], _today(request))
        else:
            period = preset(key, _today(request))
        buckets(period, granularity, _tz(request))  # refuses too many (a daily chart of years)
    except PeriodError as exc:
        raise BadInput(exc.field) from None
    return key, period, granularity


def _view_query(key: str, period: DateRange, granularity: str) -> dict[str, str]:
    query = {"range": key, "granularity": granularity}
    if key == "custom":
        query |= {"from": period.start.isoformat(), "to": period.end.isoformat()}
    return query


async def _figures(request: web.Request, period: DateRange, granularity: str) -> dict[str, Any]:
    config = request.config_dict[CONFIG]
    async with request.config_dict[SESSIONMAKER].begin() as session:
        return await dashboard_figures(
            session, period, granularity, _tz(request), request.config_dict[CLOCK], config=config
        )


def script_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json"> (no </script>, no HTML parsing)."""
    text = json.dumps(value, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _tier_names(request: web.Request) -> dict[str, str]:
    return {t.key: t.name for t in request.config_dict[CONFIG].tiers.levels}


@page.get("/admin/", role="viewer")
async def overview(request: web.Request) -> web.StreamResponse:
    partial = bool(request.headers.get("HX-Request"))
    template = "dashboard/_body.html" if partial else "dashboard/page.html"
    context: dict[str, Any] = {
        "title": "总览",
        "presets": PRESETS,
        "granularities": GRANULARITY_LABELS,
        "error": None,
        "setup": None,
    }
    try:
        key, period, granularity = _view(request)
    except BadInput as exc:
        raw = {k: request.query.get(k, "")[:16] for k in ("range", "from", "to", "granularity")}
        context |= {"error": str(exc), "range": raw["range"] or "30d", "raw": raw,
                    "granularity": "day", "period": None}  # fmt: skip
        return render(request, template, context, status=400)
    async with request.config_dict[SESSIONMAKER]() as session:
        setup = await setup_state(session)
        due = await reorder_due(session)
    context |= {"range": key, "granularity": granularity, "period": period,
                "raw": {"from": period.start.isoformat(), "to": period.end.isoformat()},
                "query": urlencode(_view_query(key, period, granularity))}  # fmt: skip
    if not setup.has_buyers:
        return render(request, template, context | {"setup": setup})
    data = await _figures(request, period, granularity)
    charts = tables(data, period, _tier_names(request))
    context |= {
        "cards": kpi_cards(data, period),
        "charts": charts,
        "chart_json": script_json({k: t.chart_data() for k, t in charts.items()}),
        "computed_at": request.config_dict[CLOCK].now().astimezone(_tz(request)),
        "data": data,
        "due": due,
    }
    return render(request, template, context)


@page.get("/admin/dashboard.csv", role="viewer")
async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    try:
        key, period, granularity = _view(request)
    except BadInput as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    chart = request.query.get("chart", "")
    data = await _figures(request, period, granularity)
    charts = tables(data, period, _tier_names(request))
    if chart not in charts:
        raise web.HTTPBadRequest(text="没有这个图表：" + "、".join(charts))
    name = f"{chart}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return web.Response(
        body=table_csv(charts[chart]),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _int(raw: str | None, field: str, low: int, high: int) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadInput(field)
    return int(raw)


def _figure_ref(request: web.Request, q) -> FigureRef:
    """The figure named by the parameters `q` (the query, or the 存为分群 form)."""
    try:
        period = parse_range(q.get("from", "")[:10], q.get("to", "")[:10], _today(request))
    except PeriodError as exc:
        raise BadInput(exc.field) from None
    month = None
    if q.get("month"):
        try:
            month = date.fromisoformat(q["month"][:7] + "-01")
        except ValueError:
            raise BadInput("month") from None
    return FigureRef(
        figure=q.get("figure", "")[:32],
        period=period,
        month=month,
        k=_int(q.get("k"), "k", 0, 11) or 0,
        reordered=q.get("reordered", "true").lower() != "false",
        stage=q.get("stage", "")[:32] or None,
        step=q.get("step", "")[:64] or None,
        field=q.get("field", "")[:32] or None,
        tier=q.get("tier", "")[:32] or None,
        campaign_id=_int(q.get("campaign_id"), "campaign_id", 0, 2**31 - 1),
    )


REF_KEYS = ("figure", "from", "to", "month", "k", "reordered", "stage", "step", "field", "tier",
            "campaign_id")  # fmt: skip


@page.get("/admin/dashboard/buyers", role="viewer")
async def drill_buyers(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[CONFIG]
    clock = request.config_dict[CLOCK]
    ref_query = {k: request.query[k][:64] for k in REF_KEYS if request.query.get(k)}
    context: dict[str, Any] = {"title": "指标买家", "ref_query": ref_query, "error": None,
                               "saved": request.query.get("saved", "")[:64]}  # fmt: skip
    try:
        ref = _figure_ref(request, request.query)
        after = _int(request.query.get("after"), "after", 0, 2**63 - 1) or 0
        async with request.config_dict[SESSIONMAKER]() as session:
            result = await figure_buyers(
                session, ref, _tz(request), clock,
                lapsed_months=config.dashboard.lapsed_months, ranks=tier_ranks(config),
                after=after, limit=min(PAGE_SIZE, MAX_LIMIT),
            )  # fmt: skip
            rows = await buyer_rows(session, result.buyer_ids)
    except (BadInput, DrillError) as exc:
        field = exc.field
        context["error"] = FIELD_MESSAGES.get(field, "参数无效。")
        return render(request, "dashboard/buyers.html", context, status=400)
    context |= {
        "figure_label": FIGURE_LABELS.get(ref.figure, ref.figure),
        "total": result.total,
        "rows": rows,
        "tier_names": _tier_names(request),
        "next_url": (
            "/admin/dashboard/buyers?" + urlencode(ref_query | {"after": result.next_after})
            if result.next_after is not None
            else None
        ),
        "segment": segment_for(ref, _tz(request), clock),
    }
    return render(request, "dashboard/buyers.html", context)


@page.post("/admin/dashboard/buyers", role="operator")
async def save_segment(request: web.Request) -> web.StreamResponse:
    """存为分群: the figure's segment spec, recomputed here from the figure (never the form)."""
    form = await request.post()
    q = {k: str(form.get(k, ""))[:64] for k in (*REF_KEYS, "name")}
    back = {k: v for k, v in q.items() if v and k != "name"}
    clock = request.config_dict[CLOCK]
    try:
        ref = _figure_ref(request, q)
    except BadInput as exc:
        return render(request, "dashboard/buyers.html",
                      {"title": "指标买家", "ref_query": back, "error": str(exc), "saved": ""},
                      status=400)  # fmt: skip
    spec = segment_for(ref, _tz(request), clock)
    message = None
    if spec is None:
        message = "这个指标无法存为分群（分群条件表达不了它）。"
    else:
        try:
            async with request.config_dict[SESSIONMAKER].begin() as session:
                segment = await create_segment(
                    session, q["name"].strip(), spec, clock.now(), "由总览指标保存"
                )
                await session.flush()
                audit.record(session, actor_of(request), "segment.create",
                             ("segment", segment.id), None, {"name": segment.name, "spec": spec})  # fmt: skip
        except SegmentExists:
            message = f"已有名为「{q['name'].strip()}」的分群，请换一个名称。"
        except SegmentError:
            message = "分群名称须为 1–64 个字母、数字、_ - . 或 ·。"
    if message:
        return render(request, "dashboard/buyers.html",
                      {"title": "指标买家", "ref_query": back, "error": message, "saved": ""},
                      status=400)  # fmt: skip
    return redirect(
        request, "/admin/dashboard/buyers?" + urlencode(back | {"saved": q["name"].strip()})
    )
