"""对账: closed periods and their totals, each buyer's statement, payouts, exports for the
accountant, closing the next period, and the rebate ladder editor with its preview.

Viewers read and export; operators close a period and mark a rebate paid; admins edit the
ladder. Every change is audited in its own transaction. The ladder editor is a GET form
that previews what the edited ladder would have paid on the last closed period (nothing is
saved) and a POST that saves it as a new version. Figures come from ``statements/views.py``.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.appkeys import CLOCK, SERVICES, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.registry import PageRoutes
from console.rendering import render
from members.tiers import current_tiers
from statements import export
from statements.close import next_to_close, open_period
from statements.ladder import (
    SPEND,
    Ladder,
    LadderError,
    current_ladder,
    ladder_history,
    parse_steps,
    percent,
    preview_last_period,
    save_ladder,
)
from statements.ledger import METHODS, LedgerError, mark_paid
from statements.periods import PeriodError
from statements.runs import close_and_notify
from statements.views import (
    closed_periods,
    period_lines,
    period_statements,
    running_totals,
    statement_detail,
)

page = PageRoutes()
PATH = "/admin/statements"
NOTICES = {
    "closed": "已结账，对账单已生成并通知买家。",
    "already": "这个期间之前已经结账，没有任何改动。",
    "paid": "已标记为已付。",
    "ladder": "返点规则已保存为新版本，下次结账起生效。",
}


def _key(request: web.Request) -> str:
    return request.match_info["key"][:16]


async def _overview(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    config = request.config_dict[SERVICES].config
    now = request.config_dict[CLOCK].now()
    sm = request.config_dict[SESSIONMAKER]
    async with sm() as session:
        periods = await closed_periods(session, config)
        running = await running_totals(session, config, now)
        ladder = await current_ladder(session)
    return render(request, "statements.html", {
        "periods": periods, "running": running, "open": open_period(config, now),
        "closable": await next_to_close(sm, config, now), "ladder": ladder, "percent": percent,
        "notice": None, "error": None,
    } | extra, status=status)  # fmt: skip


@page.get(PATH, role="viewer")
async def statements_page(request: web.Request) -> web.StreamResponse:
    return await _overview(request, notice=NOTICES.get(request.query.get("done", "")))


@page.post(PATH + "/close", role="operator")
async def close(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    key = str(form.get("period", ""))[:16]
    services = request.config_dict[SERVICES]
    sm = request.config_dict[SESSIONMAKER]
    actor = actor_of(request)

    def audited(session, result) -> None:  # in the closing transaction
        audit.record(session, actor, "statements.close", ("statement_period", result.key), None,
                     {"statements": result.statements, "net_cents": result.net_cents,
                      "rebate_cents": result.rebate_cents}, at=services.clock.now())  # fmt: skip

    try:
        result, _ = await close_and_notify(sm, services, key, actor=actor.name, record=audited)
    except PeriodError as exc:
        return await _overview(request, status=400, error=str(exc))
    return redirect(
        request, f"{PATH}/{quote(result.key)}?done=" + ("already" if result.already else "closed")
    )


@page.get(PATH + "/ladder", role="admin")
async def ladder_page(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[SERVICES].config
    async with request.config_dict[SESSIONMAKER]() as session:
        ladder = await current_ladder(session)
        tiers = (await current_tiers(session, config.tiers)).levels
        history = await ladder_history(session)
        form, preview, error, checked = _form_of(ladder), None, None, False
        if "basis" in request.query:
            form = _form_from(request.query)
            try:
                preview = await preview_last_period(session, _parse(form, tiers))
                checked = True
            except LadderError as exc:
                error = str(exc)
        current_preview = await preview_last_period(session, ladder)
    return render(request, "statements_ladder.html", {
        "form": form, "preview": preview, "current_preview": current_preview, "error": error,
        "tiers": tiers, "history": history, "ladder": ladder, "percent": percent,
        "checked": checked,
    }, status=400 if error else 200)  # fmt: skip


@page.post(PATH + "/ladder", role="admin")
async def save_ladder_route(request: web.Request) -> web.StreamResponse:
    form = _form_from(await request.post())
    config = request.config_dict[SERVICES].config
    actor, now = actor_of(request), request.config_dict[CLOCK].now()
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            tiers = (await current_tiers(session, config.tiers)).levels
            before, after = await save_ladder(session, _parse(form, tiers), actor.name, now)
            audit.record(session, actor, "statements.ladder", ("rebate_ladder", after["version"]),
                         before, after, at=now)  # fmt: skip
    except LadderError as exc:
        async with request.config_dict[SESSIONMAKER]() as session:
            tiers = (await current_tiers(session, config.tiers)).levels
            history = await ladder_history(session)
            ladder = await current_ladder(session)
            current_preview = await preview_last_period(session, ladder)
        return render(request, "statements_ladder.html", {
            "form": form, "preview": None, "current_preview": current_preview,
            "error": str(exc), "tiers": tiers, "history": history, "ladder": ladder,
            "percent": percent, "checked": False,
        }, status=400)  # fmt: skip
    return redirect(request, PATH + "?done=ladder")


def _form_of(ladder) -> dict:
    rows = [
        {"where": s.tier if ladder.basis != SPEND else _money(s.min_cents), "percent": percent(s.bp)[:-1]}
        for s in ladder.steps
    ]  # fmt: skip
    return {"basis": ladder.basis, "rows": rows + [{"where": "", "percent": ""}] * 3,
            "exclude": "，".join(ladder.exclude_skus)}  # fmt: skip


def _money(cents: int) -> str:
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents // 100}.{cents % 100:02d}"


def _form_from(source) -> dict:
    wheres = [str(v)[:32] for v in source.getall("where", [])][:12]
    rates = [str(v)[:16] for v in source.getall("percent", [])][:12]
    rows = [
        {"where": w, "percent": rates[i] if i < len(rates) else ""} for i, w in enumerate(wheres)
    ]
    return {"basis": str(source.get("basis", SPEND))[:8], "rows": rows or [{"where": "", "percent": ""}],
            "exclude": str(source.get("exclude", ""))[:2000]}  # fmt: skip


def _parse(form: dict, tiers) -> Ladder:
    return parse_steps(form["basis"], form["rows"], [t.key for t in tiers], form["exclude"])


async def _period(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    config = request.config_dict[SERVICES].config
    async with request.config_dict[SESSIONMAKER]() as session:
        found = await period_statements(session, config, _key(request))
    if found is None:
        raise web.HTTPNotFound(text="没有这个已结账的期间")
    period, rows = found
    return render(request, "statements_period.html", {
        "period": period, "label": rows[0].view.period if rows else period.key, "rows": rows,
        "methods": METHODS, "notice": None, "error": None,
    } | extra, status=status)  # fmt: skip


@page.get(PATH + "/{key}", role="viewer")
async def period_page(request: web.Request) -> web.StreamResponse:
    return await _period(request, notice=NOTICES.get(request.query.get("done", "")))


@page.get(PATH + "/{key}/buyer/{buyer_id}", role="viewer")
async def buyer_statement(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[SERVICES].config
    raw = request.match_info["buyer_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound(text="没有这张对账单")
    async with request.config_dict[SESSIONMAKER]() as session:
        view = await statement_detail(session, config, _key(request), int(raw))
    if view is None:
        raise web.HTTPNotFound(text="没有这张对账单")
    return render(request, "statements_buyer.html", {"s": view, "methods": METHODS})


@page.post(PATH + "/{key}/pay", role="operator")
async def pay(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    actor, now = actor_of(request), request.config_dict[CLOCK].now()
    key = _key(request)
    try:
        statement_id = int(str(form.get("statement_id", "")))
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            entry = await mark_paid(
                session, statement_id, method=str(form.get("method", "")),
                note=str(form.get("note", "")), actor=actor.name, now=now,
            )  # fmt: skip
            audit.record(session, actor, "statements.pay", ("statement", statement_id), None,
                         {"amount_cents": entry.amount_cents, "method": entry.method,
                          "note": entry.note}, at=now)  # fmt: skip
    except (ValueError, LedgerError) as exc:
        message = str(exc) if isinstance(exc, LedgerError) else "请选择要标记的对账单"
        return await _period(request, status=400, error=message)
    return redirect(request, f"{PATH}/{quote(key)}?done=paid")


async def _export_rows(request: web.Request):
    config = request.config_dict[SERVICES].config
    async with request.config_dict[SESSIONMAKER]() as session:
        found = await period_statements(session, config, _key(request))
        if found is None:
            raise web.HTTPNotFound(text="没有这个已结账的期间")
        period, rows = found
        lines = await period_lines(session, period, rows)
    return config, period, rows, lines


@page.get(PATH + "/{key}/export.xlsx", role="viewer")
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    config, period, rows, lines = await _export_rows(request)
    label = rows[0].view.period if rows else period.key
    body = export.xlsx(label, rows, lines, config.orders.timezone)
    return web.Response(body=body, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f'attachment; filename="statements-{period.key}.xlsx"',
    })  # fmt: skip


@page.get(PATH + "/{key}/export.csv", role="viewer")
async def export_csv(request: web.Request) -> web.StreamResponse:
    _, period, rows, _ = await _export_rows(request)
    return web.Response(body=export.csv_text(rows).encode("utf-8"), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="statements-{period.key}.csv"',
    })  # fmt: skip
