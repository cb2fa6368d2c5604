"""收件箱: staff answer the buyers the bot handed over, within WeChat's 48-hour window.

One page (``/admin/inbox``): the conversation list (tabs 待回复 · 我的 · 未分配 · 全部, search),
the selected thread with its composer, and the buyer's profile. Changes are POSTs naming the
conversation in the form (``c``), answered by POST-redirect-GET and audited: 回复 (text or an
image), 模板消息 (once the window has closed), 转交, 标为已处理, 来消息时提醒我, and the quick
replies. ``/admin/inbox/events`` streams change notices (server-sent events) from the
process's change feed (``inbox/live.py``); ``/admin/inbox/kpis`` is the dashboard fragment.
The rules live in ``inbox/``; this module reads, calls them and renders.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from console import audit
from console.accounts import list_users
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from inbox import figures, queries
from inbox.conversations import (
    InboxError,
    assign,
    mark_done,
    set_reminder,
    snapshot,
)
from inbox.live import ChangeFeed
from inbox.models import Conversation
from inbox.quick import add_quick_reply, delete_quick_reply, fill, unfilled
from inbox.replies import TEMPLATE_PURPOSE, Staff, send_reply, send_template_reply, window_of
from members.tiers import Ladder

page = PageRoutes()
PATH = "/admin/inbox"
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif"}
MAX_IMAGE = 2 * 1024 * 1024
HEARTBEAT_S = 15.0


class FeedHolder:
    """The process's one change feed, made on the first listener (the sessionmaker exists
    only once the app runs)."""

    def __init__(self) -> None:
        self.feed: ChangeFeed | None = None

    def get(self, request: web.Request) -> ChangeFeed:
        if self.feed is None:
            clock = request.config_dict[CLOCK]
            self.feed = ChangeFeed(request.config_dict[SESSIONMAKER], clock.now)
        return self.feed

    async def close(self, _app: web.Application) -> None:
        if self.feed is not None:
            await self.feed.close()


FEED = web.AppKey("inbox_feed", FeedHolder)


def mount(app: web.Application) -> None:
    """The change feed for ``/admin/inbox/events`` (called by ``console.setup``)."""
    holder = FeedHolder()
    app[FEED] = holder
    app.on_cleanup.append(holder.close)


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _waited(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    return _minutes(int((now - since).total_seconds() // 60))


def _minutes(minutes: int) -> str:
    """A span of minutes as staff read it: 12分 / 2小时5分 / 3天."""
    minutes = max(0, minutes)
    if minutes < 60:
        return f"{minutes}分"
    if minutes < 48 * 60:
        return f"{minutes // 60}小时{minutes % 60}分"
    return f"{minutes // 1440}天"


def _hm(left: timedelta) -> str:
    minutes = max(0, int(left.total_seconds() // 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def _day_start(now: datetime, zone: str) -> datetime:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _context(
    request: web.Request,
    conv_id: int | None,
    *,
    error: str | None = None,
    draft: str = "",
) -> dict[str, Any]:
    me = signed_in_user(request)
    assert me is not None
    config = request.config_dict[CONFIG]
    now = request.config_dict[CLOCK].now()
    tab = request.query.get("tab", "waiting")
    tab = tab if tab in queries.TABS else "waiting"
    q = request.query.get("q", "")[: queries.MAX_QUERY]
    tiers = {level.key: level.name for level in config.tiers.levels}
    async with request.config_dict[SESSIONMAKER]() as session:
        buyer_id = _int(request.query.get("buyer"))
        if conv_id is None and buyer_id is not None:
            conv_id = await queries.conversation_for_buyer(session, buyer_id)
        rows = await queries.list_conversations(session, tab, me.id, now, q=q)
        if conv_id is None and rows:
            conv_id = rows[0].id
        thread = await queries.thread(session, conv_id) if conv_id else None
        window = await window_of(session, thread.buyer, now) if thread else None
        staff = [u for u in await list_users(session) if not u.disabled and u.role != "viewer"]
        quick = await queries.quick_replies(session)
        today = sum(
            n
            for _, n in await figures.replies_per_staff(
                session, _day_start(now, config.inbox.timezone), now + timedelta(seconds=1)
            )
        )
    profile = None
    if thread is not None:
        buyer = thread.buyer
        ladder = Ladder(config.tiers)
        current, upcoming = ladder.get(buyer.tier_key), ladder.next_above(buyer.tier_key)
        profile = {
            "tier": current.name if current else "",
            "next": upcoming,
            "name": buyer.display_name or "",
            "label": queries.display_name(buyer),
            "tier_name": tiers.get(buyer.tier_key or "", ""),
        }
    template_id = request.config_dict[SERVICES].template_messages.template_id(TEMPLATE_PURPOSE)
    names = {u.id: u.name for u in staff}
    return {
        "title": "收件箱",
        "tabs": queries.TABS,
        "tab": tab,
        "q": q,
        "rows": rows,
        "tiers": tiers,
        "names": names,
        "thread": thread,
        "window": window,
        "window_hm": _hm(window.remaining) if window else "",
        "profile": profile,
        "staff": staff,
        "quick": [
            {
                "id": r.id,
                "title": r.title,
                "body": r.body,
                "filled": fill(
                    r.body,
                    name=profile["name"] if profile else None,
                    tier=profile["tier_name"] if profile else None,
                ),
            }
            for r in quick
        ],
        "today": today,
        "template_ready": bool(template_id),
        "waited": lambda since: _waited(since, now),
        # The wait staff aim to keep under ([inbox] response_target_minutes).
        "target": _minutes(config.inbox.response_target_minutes),
        "overdue": lambda since: (
            now - since >= timedelta(minutes=config.inbox.response_target_minutes)
        ),
        "now": now,
        "me": me,
        "error": error,
        "draft": draft,
    }


async def _page(request: web.Request, conv_id: int | None = None, *, status: int = 200, **extra):
    context = await _context(request, conv_id, **extra)
    template = "inbox.html"
    partial = request.query.get("partial")
    if request.headers.get("HX-Request") and partial in ("list", "thread"):
        template = f"inbox_{partial}.html"
    return render(request, template, context, status=status)


@page.get(PATH, role="operator")
async def inbox(request: web.Request) -> web.StreamResponse:
    return await _page(request, _int(request.query.get("c")))


@page.get(PATH + "/events", role="operator")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``event: change`` with the changed conversation ids as JSON."""
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return web.Response(status=406, text="这是收件箱的实时更新通道（text/event-stream）")
    try:
        queue = request.config_dict[FEED].get(request).listen()
    except OverflowError:
        return web.Response(
            status=503, text="实时更新连接过多，请稍后刷新", headers={"Retry-After": "5"}
        )
    feed = request.config_dict[FEED].get(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                changed = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            await response.write(f"event: change\ndata: {json.dumps(changed)}\n\n".encode())
    except ConnectionResetError:  # the browser went away
        pass
    finally:
        feed.leave(queue)
    return response


@page.get(PATH + "/kpis", role="viewer")
async def kpis(request: web.Request) -> web.StreamResponse:
    """The dashboard's inbox panel: waiting now, median first response and replies per
    staff member over the last 7 days (also a page of its own without htmx)."""
    now = request.config_dict[CLOCK].now()
    lo = now - timedelta(days=7)
    async with request.config_dict[SESSIONMAKER]() as session:
        waiting = await figures.unanswered_now(session)
        median = await figures.median_first_response_s(session, lo, now + timedelta(seconds=1))
        per_staff = await figures.replies_per_staff(session, lo, now + timedelta(seconds=1))
    context = {
        "title": "收件箱概况",
        "waiting": waiting,
        "median": None if median is None else _waited(now - timedelta(seconds=median), now),
        "per_staff": per_staff,
    }
    template = (
        "partials/inbox_kpis.html" if request.headers.get("HX-Request") else "inbox_kpis_page.html"
    )
    return render(request, template, context)


# --- changes ------------------------------------------------------------------------------
def _staff(request: web.Request) -> Staff:
    me = signed_in_user(request)
    assert me is not None
    return Staff(me.id, me.name)


def _back(request: web.Request, conv_id: int) -> web.Response:
    return redirect(request, f"{PATH}?c={conv_id}")


async def _audited_change(request: web.Request, action: str, change) -> web.StreamResponse:
    form = await request.post()
    conv_id = _int(form.get("c"))
    if conv_id is None:
        raise web.HTTPBadRequest(text="缺少会话")
    now = request.config_dict[CLOCK].now()
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            conv = await session.get(Conversation, conv_id)
            if conv is None:
                raise InboxError("没有这个会话")
            before = snapshot(conv)
            conv = await change(session, conv_id, form, now)
            audit.record(
                session, actor_of(request), action, ("conversation", conv_id), before,
                snapshot(conv), at=now,
            )  # fmt: skip
    except InboxError as exc:
        return await _page(request, conv_id, status=400, error=str(exc))
    return _back(request, conv_id)


@page.post(PATH + "/done", role="operator")
async def done(request: web.Request) -> web.StreamResponse:
    return await _audited_change(
        request, "inbox.done", lambda s, c, _form, now: mark_done(s, c, now)
    )


@page.post(PATH + "/assign", role="operator")
async def transfer(request: web.Request) -> web.StreamResponse:
    async def change(session, conv_id, form, now):
        raw = str(form.get("user_id", ""))
        user_id = None if raw in ("", "none") else _int(raw)
        if raw not in ("", "none") and user_id is None:
            raise InboxError("请选择要转交的同事")
        if user_id is not None:
            staff = {
                u.id for u in await list_users(session) if not u.disabled and u.role != "viewer"
            }
            if user_id not in staff:
                raise InboxError("这位同事不能处理收件箱（已停用或只能查看）")
        return await assign(session, conv_id, user_id, now)

    return await _audited_change(request, "inbox.assign", change)


@page.post(PATH + "/remind", role="operator")
async def remind(request: web.Request) -> web.StreamResponse:
    me = _staff(request)

    async def change(session, conv_id, form, now):
        on = str(form.get("on", "1")) == "1"
        return await set_reminder(session, conv_id, me.id if on else None, now)

    return await _audited_change(request, "inbox.remind", change)


def _audit_reply(request: web.Request, conv_id: int, now: datetime):
    async def on_recorded(session, message) -> None:
        audit.record(
            session, actor_of(request), "inbox.reply", ("conversation", conv_id), None,
            {"msgtype": message.msgtype, "content": message.content}, at=now,
        )  # fmt: skip

    return on_recorded


@page.post(PATH + "/reply", role="operator")
async def reply(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    conv_id = _int(form.get("c"))
    if conv_id is None:
        raise web.HTTPBadRequest(text="缺少会话")
    text = str(form.get("text", "")) if not isinstance(form.get("text"), web.FileField) else ""
    upload = form.get("image")
    image = None
    now = request.config_dict[CLOCK].now()
    try:
        if isinstance(upload, web.FileField) and upload.filename:
            data = upload.file.read(MAX_IMAGE + 1)
            if upload.content_type not in IMAGE_TYPES:
                raise InboxError("图片只能是 JPG、PNG 或 GIF")
            if not data or len(data) > MAX_IMAGE:
                raise InboxError("图片最大 2MB")
            image = (data, upload.filename[:64], upload.content_type)
        elif missing := unfilled(text):
            raise InboxError(f"请先填写 {'、'.join(missing)} 再发送")
        services = request.config_dict[SERVICES]
        await send_reply(
            request.config_dict[SESSIONMAKER], services.api, conv_id, _staff(request), now,
            text=None if image else text, image=image,
            on_recorded=_audit_reply(request, conv_id, now),
        )  # fmt: skip
    except InboxError as exc:
        return await _page(request, conv_id, status=400, error=str(exc), draft=text[:600])
    return _back(request, conv_id)


@page.post(PATH + "/template", role="operator")
async def template(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    conv_id = _int(form.get("c"))
    if conv_id is None:
        raise web.HTTPBadRequest(text="缺少会话")
    text = str(form.get("text", ""))
    now = request.config_dict[CLOCK].now()
    book = request.config_dict[SERVICES].template_messages
    try:
        await send_template_reply(
            request.config_dict[SESSIONMAKER], request.config_dict[SERVICES].api,
            book.template_id(TEMPLATE_PURPOSE), conv_id, _staff(request), text,
            now, on_recorded=_audit_reply(request, conv_id, now), book=book,
        )  # fmt: skip
    except InboxError as exc:
        return await _page(request, conv_id, status=400, error=str(exc), draft=text[:600])
    return _back(request, conv_id)


@page.post(PATH + "/quick-replies", role="operator")
async def add_quick(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    conv_id = _int(form.get("c"))
    now = request.config_dict[CLOCK].now()
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            saved = add_quick_reply(
                session, str(form.get("title", "")), str(form.get("body", "")),
                _staff(request).id, now,
            )  # fmt: skip
            await session.flush()
            audit.record(
                session, actor_of(request), "inbox.quick_reply.create",
                ("quick_reply", saved.id), None, {"title": saved.title, "body": saved.body},
                at=now,
            )  # fmt: skip
    except InboxError as exc:
        return await _page(request, conv_id, status=400, error=str(exc))
    return redirect(request, f"{PATH}?c={conv_id}" if conv_id else PATH)


@page.post(PATH + "/quick-replies/delete", role="operator")
async def delete_quick(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    reply_id = _int(form.get("id"))
    conv_id = _int(form.get("c"))
    now = request.config_dict[CLOCK].now()
    try:
        if reply_id is None:
            raise InboxError("没有这条快捷回复")
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            gone = await delete_quick_reply(session, reply_id)
            audit.record(
                session, actor_of(request), "inbox.quick_reply.delete", ("quick_reply", reply_id),
                {"title": gone.title, "body": gone.body}, None, at=now,
            )  # fmt: skip
    except InboxError as exc:
        return await _page(request, conv_id, status=400, error=str(exc))
    return redirect(request, f"{PATH}?c={conv_id}" if conv_id else PATH)
