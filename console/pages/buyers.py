"""买家 — the buyer list: search, filter chips, sortable columns, keyset pages, and the bulk
actions (打标签 / 移除标签 / 存为分群) that apply to the whole filter, not the visible page.

Filters are GET parameters (a filtered view is a link, kept by ``hx-push-url``). A bulk action
first shows a ``<dialog>`` naming the filter in words and the exact count; the POST carries
the filter again and that count, and is refused if the count moved in between (the staff
member confirmed a different number). Viewers read the list with phones masked; changes
need an operator. The single buyer's page is ``console/pages/buyer.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from bot.wechat.channels import WINDOW
from console import audit
from console.auth import redirect
from console.buyer_filters import (
    FILTER_KEYS,
    SORT_LABELS,
    STATUSES,
    BuyerFilters,
    condition,
    in_words,
    parse_filters,
    to_spec,
)
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from members.buyer_book import BookError, bulk_tag, check_tag, count_buyers, list_buyers
from members.card.choices import BUSINESS_TYPES
from scheduler.saved_segments import NAME_RE, SegmentExists, create_segment
from scheduler.segments import SegmentError

page = PageRoutes()
PATH = "/admin/buyers"


def mask_phone(phone: str | None) -> str:
    """138****8000 (viewers never see a whole number)."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def can_edit(request: web.Request) -> bool:
    user = signed_in_user(request)
    return user is not None and Role.parse(user.role) >= Role.operator


def ago(value: datetime | None, now: datetime) -> str:
    """12分钟前 / 3小时前 / 5天前 (the full stamp goes in a title)."""
    if value is None:
        return "—"
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return "刚刚"
    if seconds < 3600:
        return f"{int(seconds // 60)}分钟前"
    if seconds < 86400:
        return f"{int(seconds // 3600)}小时前"
    if seconds < 86400 * 365:
        return f"{int(seconds // 86400)}天前"
    return f"{int(seconds // (86400 * 365))}年前"


def _choices(config) -> dict[str, list[tuple[str, str]]]:
    return {
        "tier": [(t.key, t.name) for t in config.tiers.levels] + [("none", "无等级")],
        "status": list(STATUSES.items()),
        "btype": [(k, v[0]) for k, v in BUSINESS_TYPES.items()],
        "interest": [(c, c) for c in config.card.interest_categories],
        "card": [("yes", "已交换"), ("no", "未交换")],
        "optout": [("no", "未退订"), ("yes", "已退订")],
    }


async def _list(
    request: web.Request,
    *,
    query: Mapping[str, str] | None = None,
    status: int = 200,
    error: str = "",
) -> web.Response:
    """The list for `query` (default: the request's own parameters)."""
    query = request.query if query is None else query
    config = request.config_dict[CONFIG]
    now = request.config_dict[CLOCK].now()
    try:
        filters = parse_filters(query, config)
    except BookError as exc:
        return render(request, "buyers.html", _empty_ctx(request, str(exc)), status=400)
    try:
        async with request.config_dict[SESSIONMAKER]() as session:
            book = await list_buyers(
                session, condition(filters, now), filters.q,
                sort=filters.sort, desc=filters.desc, cursor=filters.cursor, count=False,
            )  # fmt: skip
    except BookError as exc:
        return render(request, "buyers.html", _empty_ctx(request, str(exc)), status=400)
    tiers = {t.key: t.name for t in config.tiers.levels}
    editor = can_edit(request)
    rows = [
        {
            "buyer": b,
            "phone": (b.phone or "") if editor else mask_phone(b.phone),
            "tier": tiers.get(b.tier_key or "", ""),
            "ago": ago(b.last_interaction_at, now),
            "in_window": b.last_interaction_at is not None and now - b.last_interaction_at < WINDOW,
        }
        for b in book.rows
    ]
    return render(
        request,
        "buyers.html",
        {
            "filters": filters,
            "words": in_words(filters, config),
            "rows": rows,
            # Counted by /admin/buyers/total once the page shows (nothing to count: 0).
            "total": 0 if not book.rows and not filters.cursor else None,
            "next_url": f"{PATH}?{urlencode(filters.params(after=book.next_cursor))}"
            if book.next_cursor
            else None,
            "sort_url": lambda key: _sort_url(filters, key),
            "sort_labels": SORT_LABELS,
            "choices": _choices(config),
            "query": urlencode(filters.params()),
            "can_save": bool(filters.chips) and not filters.q,
            "editor": editor,
            "error": error,
            "message": _done_message(query),
        },
        status=status,
    )


def _done_message(query: Mapping[str, str]) -> str:
    """The notice after a bulk change, built here from its parts (a link cannot put arbitrary
    words in a notice: only a count and a tag or segment name, each checked)."""
    done, n = query.get("done", ""), str(query.get("n", ""))
    try:
        if done in ("add", "remove") and n.isdigit() and len(n) < 10:
            verb = "打上" if done == "add" else "移除"
            return f"已为 {int(n):,} 位买家{verb}标签「{check_tag(query.get('tag', ''))}」"
    except BookError:
        return ""
    name = str(query.get("name", ""))
    if done == "segment" and NAME_RE.match(name):
        return f"已存为分群「{name}」"
    return ""


def _sort_url(filters: BuyerFilters, key: str) -> str:
    desc = not (filters.sort == key and filters.desc)
    params = filters.params(sort=key, dir="desc" if desc else "asc")
    return f"{PATH}?{urlencode(params)}"


def _empty_ctx(request: web.Request, error: str) -> dict[str, Any]:
    config = request.config_dict[CONFIG]
    blank = BuyerFilters()
    return {
        "filters": blank, "words": "", "rows": [], "total": 0, "next_url": None,
        "sort_url": lambda key: _sort_url(blank, key), "sort_labels": SORT_LABELS,
        "choices": _choices(config), "query": "", "can_save": False,
        "editor": can_edit(request), "error": error, "message": "",
    }  # fmt: skip


@page.get(PATH, role="viewer")
async def buyers(request: web.Request) -> web.StreamResponse:
    return await _list(request)


def _action(raw: str) -> str:
    if raw not in ("add", "remove"):
        raise BookError("请选择「打标签」或「移除标签」")
    return raw


@page.get(PATH + "/total", role="viewer")
async def total(request: web.Request) -> web.StreamResponse:
    """共 N 条 of the list: the exact count of the filter, asked for after the page shows
    (a filter no index narrows counts every buyer; the page itself need not wait for it)."""
    config = request.config_dict[CONFIG]
    try:
        filters = parse_filters(request.query, config)
    except BookError:
        return web.Response(text="—", content_type="text/html")
    async with request.config_dict[SESSIONMAKER]() as session:
        n = await count_buyers(
            session, condition(filters, request.config_dict[CLOCK].now()), filters.q
        )
    return web.Response(text=f"{n:,}", content_type="text/html")


@page.get(PATH + "/bulk", role="operator")
async def bulk_confirm(request: web.Request) -> web.StreamResponse:
    """The confirmation: the filter in words and the exact number of buyers it will change."""
    config = request.config_dict[CONFIG]
    try:
        filters = parse_filters(request.query, config)
        action = _action(request.query.get("action", ""))
        tag = check_tag(request.query.get("bulk_tag", ""))
        async with request.config_dict[SESSIONMAKER]() as session:
            count = await count_buyers(
                session, condition(filters, request.config_dict[CLOCK].now()), filters.q
            )
    except BookError as exc:
        return await _list(request, status=400, error=str(exc))
    return render(
        request,
        "buyers_bulk.html",
        {
            "filters": filters,
            "words": in_words(filters, config),
            "action": action,
            "tag": tag,
            "count": count,
            "hidden": filters.params(),
            "back": f"{PATH}?{urlencode(filters.params())}",
        },
    )


@page.post(PATH + "/bulk", role="operator")
async def bulk_apply(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[CONFIG]
    form = await request.post()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    now = request.config_dict[CLOCK].now()
    try:
        filters = parse_filters(fields, config)
        action = _action(fields.get("action", ""))
        expected = fields.get("count", "")
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            where = condition(filters, now)
            count = await count_buyers(session, where, filters.q)
            if str(count) != expected:
                raise BookError(
                    f"符合条件的买家已变为 {count:,} 位（确认时为 {expected or '—'} 位），"
                    "请重新确认"
                )
            tag = fields.get("bulk_tag", "")
            changed = await bulk_tag(session, where, filters.q, tag, add=action == "add")
            audit.record(
                session, actor_of(request), f"buyer.bulk_tag_{action}", ("buyer", None),
                {"filter": in_words(filters, config), "matched": count},
                {"tag": tag, "changed": changed, "params": filters.params()}, at=now,
            )  # fmt: skip
    except BookError as exc:
        return await _list(request, query=_filter_fields(fields), status=400, error=str(exc))
    done = {"done": action, "n": changed, "tag": check_tag(tag)}
    return redirect(request, f"{PATH}?{urlencode(filters.params(**done))}")


def _filter_fields(fields: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k in (*FILTER_KEYS, "q", "sort", "dir")}


@page.post(PATH + "/segment", role="operator")
async def save_segment(request: web.Request) -> web.StreamResponse:
    """存为分群: the current chips become a saved segment (same spec, same count)."""
    config = request.config_dict[CONFIG]
    form = await request.post()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    now = request.config_dict[CLOCK].now()
    name = fields.get("name", "").strip()
    try:
        filters = parse_filters(fields, config)
        if filters.q:
            raise BookError("搜索词不能存为分群：请清除搜索，只用筛选条件")
        if not filters.chips:
            raise BookError("请先选择至少一个筛选条件")
        spec = to_spec(filters)
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            segment = await create_segment(session, name, spec, now, in_words(filters, config))
            audit.record(
                session, actor_of(request), "segment.create", ("segment", segment.id), None,
                {"name": name, "spec": spec, "from": "buyers"}, at=now,
            )  # fmt: skip
    except SegmentExists:
        error = f"已有名为「{name}」的分群，请换一个名称"
    except SegmentError:
        error = "分群名称需为 1–64 个字（中文、字母、数字或 _ - . ·）"
    except BookError as exc:
        error = str(exc)
    else:
        done = {"done": "segment", "name": name}
        return redirect(request, f"{PATH}?{urlencode(filters.params(**done))}")
    return await _list(request, query=_filter_fields(fields), status=400, error=error)
