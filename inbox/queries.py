"""What the inbox page reads: the conversation list per tab, one thread, the buyer beside it,
and saved quick replies. Each function is one read in the caller's session; nothing here
changes anything (``inbox/conversations.py`` does).

Order of the list: conversations whose buyer asked for a person and still waits first, then
the rest of the waiting ones oldest first (``waiting_since`` never moves while waiting, so a
new conversation joins at the bottom and never jumps the sort), then the answered ones,
latest message first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer, OutboundMessage
from bot.wechat import channels
from inbox.models import DONE, WAITING, Conversation, InboxMessage, QuickReply
from members.orders import Order

TABS = {"waiting": "待回复", "mine": "我的", "unassigned": "未分配", "all": "全部"}
MAX_QUERY = 50
THREAD_LIMIT = 200


@dataclass(frozen=True)
class Row:
    id: int
    buyer_id: int
    name: str
    tier_key: str | None
    last_message: str
    last_message_at: datetime
    waiting_since: datetime | None
    requested_person: bool
    assigned_to: int | None
    status: str
    window_left: timedelta | None  # None: the 48-hour window has closed
    remind_user_id: int | None = None  # 来消息时提醒我


def display_name(buyer: Buyer) -> str:
    return buyer.display_name or buyer.company or f"买家 {buyer.openid[-6:]}"


async def list_conversations(
    session: AsyncSession,
    tab: str,
    user_id: int,
    now: datetime,
    *,
    q: str = "",
    limit: int = 100,
) -> list[Row]:
    """The list of one tab (``TABS``), optionally searched by buyer name or message text."""
    waiting = Conversation.waiting_since.is_not(None)
    stmt = select(Conversation, Buyer).join(Buyer, Buyer.id == Conversation.buyer_id)
    if tab == "waiting":
        stmt = stmt.where(waiting)
    elif tab == "mine":
        stmt = stmt.where(Conversation.assigned_to == user_id, Conversation.status != DONE)
    elif tab == "unassigned":
        stmt = stmt.where(Conversation.assigned_to.is_(None), Conversation.status != DONE)
    q = q.strip()[:MAX_QUERY]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Buyer.display_name.like(like, escape="\\"),
                Buyer.company.like(like, escape="\\"),
                exists().where(
                    InboxMessage.conversation_id == Conversation.id,
                    InboxMessage.content.like(like, escape="\\"),
                ),
            )
        )
    pinned = case((and_(waiting, Conversation.requested_person), 0), else_=1)
    stmt = stmt.order_by(
        pinned,
        case((waiting, 0), else_=1),
        Conversation.waiting_since.asc(),
        Conversation.last_message_at.desc(),
        Conversation.id,
    ).limit(limit)
    rows = []
    for conv, buyer in (await session.execute(stmt)).all():
        last = buyer.last_interaction_at
        left = last + channels.WINDOW - now if channels.in_window(last, now) else None
        rows.append(
            Row(
                conv.id,
                buyer.id,
                display_name(buyer),
                buyer.tier_key,
                conv.last_message,
                conv.last_message_at,
                conv.waiting_since,
                conv.requested_person,
                conv.assigned_to,
                conv.status,
                left,
                conv.remind_user_id,
            )
        )
    return rows


async def conversation_for_buyer(session: AsyncSession, buyer_id: int) -> int | None:
    return await session.scalar(select(Conversation.id).where(Conversation.buyer_id == buyer_id))


@dataclass(frozen=True)
class Entry:
    """One line of the thread: who (buyer, bot, staff, push), what, when."""

    author: str
    content: str
    at: datetime
    msgtype: str = "text"
    staff_name: str | None = None


@dataclass(frozen=True)
class Thread:
    conversation: Conversation
    buyer: Buyer
    entries: list[Entry]
    recent_orders: list[Order]
    recent_pushes: list[OutboundMessage]


async def thread(session: AsyncSession, conversation_id: int) -> Thread | None:
    """A conversation's thread, with campaign and other pushes of its time in between."""
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        return None
    buyer = await session.get(Buyer, conv.buyer_id)
    messages = (
        await session.scalars(
            select(InboxMessage)
            .where(InboxMessage.conversation_id == conv.id)
            .order_by(InboxMessage.id.desc())
            .limit(THREAD_LIMIT)
        )
    ).all()
    entries = [
        Entry(m.author, m.content, m.created_at, m.msgtype, m.staff_name)
        for m in reversed(messages)
    ]
    since = messages[-1].created_at if messages else conv.opened_at
    pushes = (
        await session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.openid == buyer.openid,
                OutboundMessage.purpose.not_in(("reply", "deferred_reply", "staff_reply")),
                OutboundMessage.result == "ok",
            )
            .order_by(OutboundMessage.created_at.desc())
            .limit(20)
        )
    ).all()
    entries += [
        Entry("push", p.content or f"「{p.purpose}」", p.created_at, p.channel)
        for p in pushes
        if p.created_at >= since
    ]
    entries.sort(key=lambda e: e.at)
    orders = (
        await session.scalars(
            select(Order)
            .where(Order.buyer_id == buyer.id)
            .order_by(Order.ordered_at.desc())
            .limit(5)
        )
    ).all()
    return Thread(conv, buyer, entries, list(orders), list(pushes[:5]))


async def waiting_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.status == WAITING)
        )
        or 0
    )


async def quick_replies(session: AsyncSession, q: str = "") -> list[QuickReply]:
    """Saved replies whose title or body contains `q`, by title."""
    stmt = select(QuickReply).order_by(QuickReply.title, QuickReply.id).limit(50)
    q = q.strip()[:MAX_QUERY]
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(QuickReply.title.like(like), QuickReply.body.like(like)))
    return list((await session.scalars(stmt)).all())
