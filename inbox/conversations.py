"""A buyer's conversation with staff: opened by a handoff, fed by every later message, and
changed by staff (reply, 转交, 标为已处理, 来消息时提醒我).

Rules kept here, and only here:
- a handoff opens the conversation (or reopens a done one as a new episode) and sets
  ``waiting_since`` if it is not set; the buyer is acknowledged on the first handoff of an
  episode, and again on a later one once both the last acknowledgement and the last staff
  reply are ``again_after`` old (so a buyer writing into the silence hears when someone
  answers, at most once per ``again_after``);
- while a conversation is not done, every message of the buyer is appended, with the bot's
  answer; a message the bot answered does not make the buyer wait;
- ``waiting_since`` is cleared only by a staff reply (``record_staff_reply``) or by
  ``mark_done``; the first staff reply assigns an unassigned conversation to its author.

Every function works inside the caller's transaction and bumps ``version``/``updated_at``
for the live feed. Sending is ``inbox/replies.py``'s job; reading lists is ``inbox/queries.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from bot.recent import Recent
from inbox.models import BOT, BUYER, DONE, OPEN, STAFF, WAITING, Conversation, InboxMessage

PREVIEW = 200


class InboxError(ValueError):
    """A staff action that cannot be done; the message is shown to staff as is."""


@dataclass(frozen=True)
class Handoff:
    conversation: Conversation
    acknowledge: bool  # tell the buyer staff will answer (and when)
    again: bool = False  # … once more: the buyer was told before in this episode


def _touch(conv: Conversation, now: datetime) -> None:
    conv.updated_at = now
    conv.version = (conv.version or 0) + 1


def _append(
    session: AsyncSession, conv: Conversation, author: str, content: str, now: datetime, **extra
) -> InboxMessage:
    message = InboxMessage(
        conversation_id=conv.id, author=author, content=content, created_at=now, **extra
    )
    session.add(message)
    if author != BOT:
        conv.last_message_at = now
        conv.last_message = content[:PREVIEW]
    _touch(conv, now)
    return message


async def conversation_of(session: AsyncSession, buyer_id: int) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.buyer_id == buyer_id))


async def last_staff_reply_at(session: AsyncSession, conversation_id: int) -> datetime | None:
    """When staff last answered in the conversation (None: never)."""
    return await session.scalar(
        select(func.max(InboxMessage.created_at)).where(
            InboxMessage.conversation_id == conversation_id, InboxMessage.author == STAFF
        )
    )


async def hand_over(
    session: AsyncSession,
    buyer: Buyer,
    content: str,
    now: datetime,
    *,
    person: bool,
    again_after: timedelta | None = None,
) -> Handoff:
    """The bot cannot answer `content`: queue the buyer for staff, storing the message.
    `again_after` (None: never) is the quiet time after which the buyer is told again."""
    conv = await conversation_of(session, buyer.id)
    if conv is None:
        conv = Conversation(
            buyer_id=buyer.id,
            status=WAITING,
            opened_at=now,
            requested_person=False,
            last_message_at=now,
            last_message="",
            updated_at=now,
            version=0,
        )
        session.add(conv)
        await session.flush()
    elif conv.status == DONE:  # a new episode: acknowledged afresh, a new request
        conv.opened_at, conv.acked_at, conv.requested_person = now, None, False
    conv.status = WAITING
    if conv.waiting_since is None:
        conv.waiting_since = now
    if person:
        conv.requested_person = True
    _append(session, conv, BUYER, content, now)
    again = False
    if conv.acked_at is not None and again_after:
        quiet_since = max(
            conv.acked_at, await last_staff_reply_at(session, conv.id) or conv.acked_at
        )
        again = now - quiet_since >= again_after
    acknowledge = conv.acked_at is None or again
    if acknowledge:
        conv.acked_at = now
    return Handoff(conv, acknowledge, again)


async def append_if_open(
    session: AsyncSession, buyer: Buyer, content: str, reply: str | None, now: datetime
) -> bool:
    """A message the bot answered, from a buyer whose conversation is open: keep it in the
    thread (with the answer) without making the buyer wait. False when there is none."""
    conv = await conversation_of(session, buyer.id)
    if conv is None or conv.status == DONE:
        return False
    _append(session, conv, BUYER, content, now)
    if reply:
        record_bot_reply(session, conv, reply, now)
    return True


def record_bot_reply(session: AsyncSession, conv: Conversation, text: str, now: datetime) -> None:
    """What the bot answered in the conversation (shown grey in the thread)."""
    _append(session, conv, BOT, text, now)


async def _get(session: AsyncSession, conversation_id: int) -> Conversation:
    conv = await session.get(Conversation, conversation_id, with_for_update=True)
    if conv is None:
        raise InboxError("没有这个会话")
    return conv


def snapshot(conv: Conversation) -> dict:
    """The audited state of a conversation."""
    return {
        "status": conv.status,
        "assigned_to": conv.assigned_to,
        "waiting_since": conv.waiting_since.isoformat() if conv.waiting_since else None,
        "remind_user_id": conv.remind_user_id,
    }


async def record_staff_reply(
    session: AsyncSession,
    conversation_id: int,
    *,
    staff_id: int,
    staff_name: str,
    content: str,
    msgtype: str,
    outbound_id: int | None,
    now: datetime,
) -> InboxMessage:
    """A staff reply WeChat accepted: it ends the wait, and assigns an unassigned
    conversation to its author."""
    conv = await _get(session, conversation_id)
    waited = (now - conv.waiting_since).total_seconds() if conv.waiting_since else None
    message = _append(
        session,
        conv,
        STAFF,
        content,
        now,
        msgtype=msgtype,
        staff_user_id=staff_id,
        staff_name=staff_name,
        outbound_id=outbound_id,
        response_s=waited,
    )
    conv.waiting_since = None
    conv.requested_person = False
    conv.remind_user_id = None  # answered: the reminder has done its job
    conv.status = OPEN
    if conv.assigned_to is None:
        conv.assigned_to = staff_id
    return message


async def mark_done(session: AsyncSession, conversation_id: int, now: datetime) -> Conversation:
    """标为已处理: nothing more to answer; the next handoff opens a new episode."""
    conv = await _get(session, conversation_id)
    conv.status, conv.waiting_since, conv.requested_person = DONE, None, False
    _touch(conv, now)
    return conv


async def assign(
    session: AsyncSession, conversation_id: int, user_id: int | None, now: datetime
) -> Conversation:
    """转交: the colleague who answers from now on (None: unassigned)."""
    conv = await _get(session, conversation_id)
    conv.assigned_to = user_id
    _touch(conv, now)
    return conv


async def set_reminder(
    session: AsyncSession, conversation_id: int, user_id: int | None, now: datetime
) -> Conversation:
    """来消息时提醒我: alert `user_id` when the buyer writes again (None: stop)."""
    conv = await _get(session, conversation_id)
    conv.remind_user_id = user_id
    _touch(conv, now)
    return conv


async def erase_conversation(session: AsyncSession, buyer_id: int, now: datetime) -> None:
    """删除我的资料: the buyer's messages leave the inbox and the conversation is closed."""
    conv = await conversation_of(session, buyer_id)
    if conv is None:
        return
    await session.execute(delete(InboxMessage).where(InboxMessage.conversation_id == conv.id))
    conv.status, conv.waiting_since, conv.requested_person = DONE, None, False
    conv.last_message = ""
    _touch(conv, now)


async def open_buyer_ids(session: AsyncSession) -> set[int]:
    """The buyers whose conversation is not done."""
    rows = await session.scalars(select(Conversation.buyer_id).where(Conversation.status != DONE))
    return set(rows)


# Which buyers may have an open conversation: every answered message asks, and a query per
# message cost the webhook most of its throughput (bench/webhook.py), so the set is read at
# most once a second per process. Only a "no" is trusted: a "maybe" is checked against the
# row (``append_if_open``); a conversation opened in this process is added at once (opened).
OPEN_CONVERSATIONS: Recent[set[int]] = Recent(fresh_s=1.0)


async def may_be_open(database: str, buyer_id: int, session: Callable[[], AsyncSession]) -> bool:
    """False when `buyer_id` surely has no open conversation. `session` is asked for only
    when the set is reloaded, so most calls open no session at all."""
    ids = await OPEN_CONVERSATIONS.get(database, lambda: open_buyer_ids(session()))
    return buyer_id in ids


def opened(database: str, buyer_id: int) -> None:
    """A conversation of `buyer_id` was just opened in this process."""
    held = OPEN_CONVERSATIONS.peek(database)
    if held is not None:
        held.add(buyer_id)
