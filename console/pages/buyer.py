"""买家 → one buyer's page: header (tier, customer step, window), the timeline by type, and
the side panel (名片 edited in place, 等级 progress, orders, consent, 标签, 备注, 操作记录);
删除资料 erases the buyer's personal data after the staff member types the buyer's name.

Every change is a POST that redirects back (works without JavaScript) and is audited with
before and after. A tag change comes back with a 撤销 toast: a form that posts the opposite
change. Viewers get the same page without edit controls and with the phone masked.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from bot.models import Buyer
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.labels import tier_names
from console.pages.buyers import PATH, ago, can_edit, mask_phone
from console.queries.buyer_timeline import (
    KINDS,
    audit_entries,
    money,
    recent_orders,
    staff_edited_fields,
    tier_progress,
    timeline,
    window_hours_left,
)
from console.registry import PageRoutes
from console.rendering import render
from members.buyer_book import BookError, add_note, add_tag, delete_notes, notes_for, remove_tag
from members.buyer_card_edit import card_fields, edit_card_field
from members.card.profile import erase_buyer_data
from members.order_lines import buyer_purchases

page = PageRoutes()
BUYER = PATH + "/{buyer_id}"
REDACTED_ACTIONS = ("buyer.card", "buyer.tag_add", "buyer.tag_remove")


def _buyer_id(request: web.Request) -> int:
    raw = request.match_info["buyer_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


async def _load(session, request: web.Request):
    buyer = await session.get(Buyer, _buyer_id(request))
    if buyer is None:
        raise web.HTTPNotFound(text="没有这位买家")
    return buyer


def step_of(buyer) -> str:
    if buyer.orders_total >= 2:
        return "returning"
    return "new" if buyer.orders_total == 1 else "prospect"


async def _page(
    request: web.Request, *, status: int = 200, error: str = "", field_error: str = ""
) -> web.Response:
    config = request.config_dict[CONFIG]
    now = request.config_dict[CLOCK].now()
    kind = request.query.get("type", "")
    kind = kind if kind in KINDS else None
    async with request.config_dict[SESSIONMAKER]() as session:
        buyer = await _load(session, request)
        names = await tier_names(session, config.tiers)
        entries = await timeline(session, buyer, kind, tier_names=names)
        notes = await notes_for(session, buyer.id)
        log = await audit_entries(session, buyer.id)
        edited = await staff_edited_fields(session, buyer.id)
        orders = await recent_orders(session, buyer.id)
        purchases = await buyer_purchases(session, buyer.id)
    editor = can_edit(request)
    fields = [
        (f, label, mask_phone(shown) if f == "phone" and not editor else shown, prefill)
        for f, label, shown, prefill in card_fields(buyer)
    ]
    undo = request.query.get("undo", "")
    return render(
        request,
        "buyer.html",
        {
            "buyer": buyer,
            "name": buyer.display_name or "未留称呼",
            "tier_name": names.get(buyer.tier_key or "", "无等级"),
            "step": step_of(buyer),
            "lapsed": buyer.orders_total >= 1 and buyer.orders_12m == 0,
            "hours_left": window_hours_left(buyer, now),
            "entries": entries,
            "kinds": KINDS,
            "kind": kind or "",
            "fields": fields,
            "edited": edited,
            "progress": tier_progress(buyer, config),
            "orders": orders,
            "purchases": purchases,
            "money": money,
            "notes": notes,
            "log": log,
            "editor": editor,
            "ago": lambda v: ago(v, now),
            "undo": undo.partition(":") if undo.partition(":")[0] in ("add", "remove") else None,
            "error": error,
            "field_error": field_error,
            "self_url": f"{PATH}/{buyer.id}",
        },
        status=status,
    )


@page.get(BUYER, role="viewer")
async def buyer_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


@page.post(BUYER + "/tags", role="operator")
async def change_tag(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    action, tag = form.get("action", "add"), form.get("tag", "")
    now = request.config_dict[CLOCK].now()
    try:
        if action not in ("add", "remove"):
            raise BookError("请选择添加或移除标签")
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            buyer = await _load(session, request)
            before = list(buyer.tags or [])
            changed = add_tag(buyer, tag) if action == "add" else remove_tag(buyer, tag)
            if changed:
                audit.record(
                    session, actor_of(request), f"buyer.tag_{action}", ("buyer", buyer.id),
                    {"tags": before}, {"tags": list(buyer.tags)}, at=now,
                )  # fmt: skip
    except BookError as exc:
        return await _page(request, status=400, error=str(exc))
    opposite = "remove" if action == "add" else "add"
    query = urlencode({"undo": f"{opposite}:{' '.join(tag.split())}"}) if changed else ""
    return redirect(request, f"{PATH}/{buyer.id}" + (f"?{query}" if query else ""))


@page.post(BUYER + "/card", role="operator")
async def edit_card(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    config = request.config_dict[CONFIG]
    now = request.config_dict[CLOCK].now()
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            buyer = await _load(session, request)
            before, after = edit_card_field(
                buyer, form.get("field", ""), form.get("value", ""),
                config.card.interest_categories,
            )  # fmt: skip
            if before != after:
                audit.record(
                    session, actor_of(request), "buyer.card", ("buyer", buyer.id),
                    before, after, at=now,
                )  # fmt: skip
    except BookError as exc:
        return await _page(request, status=400, field_error=str(exc))
    return redirect(request, f"{PATH}/{buyer.id}")


@page.post(BUYER + "/notes", role="operator")
async def note(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    now = request.config_dict[CLOCK].now()
    actor = actor_of(request)
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            buyer = await _load(session, request)
            added = await add_note(
                session, buyer, (actor.id, actor.name), form.get("body", ""), now
            )
            audit.record(
                session, actor, "buyer.note", ("buyer", buyer.id), None,
                {"note_id": added.id}, at=now,
            )  # fmt: skip
    except BookError as exc:
        return await _page(request, status=400, error=str(exc))
    return redirect(request, f"{PATH}/{buyer.id}")


@page.post(BUYER + "/erase", role="operator")
async def erase(request: web.Request) -> web.StreamResponse:
    """删除资料: irreversible, so the staff member types the buyer's name (or openid)."""
    form = await _form(request)
    now = request.config_dict[CLOCK].now()
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            buyer = await _load(session, request)
            expected = buyer.display_name or buyer.openid
            if form.get("confirm_name", "").strip() != expected:
                raise BookError(f"请输入买家的称呼「{expected}」以确认删除资料")
            had = {"display_name": buyer.display_name, "company": buyer.company,
                   "tags": list(buyer.tags or [])}  # fmt: skip
            await erase_buyer_data(session, buyer)
            notes = await delete_notes(session, buyer.id)
            # Earlier entries quote card values and tags: keep who and when, drop what.
            await audit.redact(session, ("buyer", buyer.id), REDACTED_ACTIONS)
            audit.record(
                session, actor_of(request), "buyer.erase", ("buyer", buyer.id),
                {"fields": sorted(k for k, v in had.items() if v)}, {"notes_deleted": notes},
                at=now,
            )  # fmt: skip
    except BookError as exc:
        return await _page(request, status=400, error=str(exc))
    return redirect(request, f"{PATH}/{buyer.id}?erased=1")
