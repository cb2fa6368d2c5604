"""Messages the bot cannot answer itself: a request for a person, and everything not understood.

Both end in ``hand_off(ctx, reason)``, which queues the buyer's conversation in the staff
inbox (``inbox/conversations.py``) with the message, and answers with an honest
acknowledgement — within business hours that staff will answer shortly, outside them when
(``[inbox]``) — on the first message of a conversation, and on a later one only after a
quiet while (``reacknowledge_after_minutes``; the rule is ``hand_over``'s); other messages
of the conversation get nothing. With ``[inbox] transfer_to_wechat_kf`` every handed-off
message is instead answered with ``transfer_customer_service``, so WeChat's own customer-service tool gets it too.
``keep_in_thread`` (a reply hook, the last) appends every other message of a buyer with
an open conversation, with the bot's answer, so staff see the whole exchange.

Order: ``ask_for_person`` (人工, 客服, 找老板, 转人工 … see ``handlers/intents.py``) sits after
the card's form router, so an answer to a card question is never taken for it; ``fallback``
is the dispatcher's fallback. Events no handler wanted get no answer and are no handoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent
from inbox import hours
from inbox.conversations import (
    append_if_open,
    hand_over,
    may_be_open,
    opened,
    record_bot_reply,
)

router = Router("handoff")

PERSON = "person"
NOT_UNDERSTOOD = "not_understood"
Reason = Literal["person", "not_understood"]
# How a message that is not text shows in the staff thread.
MESSAGE_LINES = {
    "image": "「图片」",
    "voice": "「语音」",
    "video": "「视频」",
    "shortvideo": "「小视频」",
    "location": "「位置」",
    "link": "「链接」",
}


def thread_line(ctx: Context) -> str:
    """The buyer's message as the staff thread shows it (a voice message with WeChat's
    recognition of it, which is what the bot understood)."""
    text = ctx.text
    if text and ctx.msg_type == "voice":
        return f"{MESSAGE_LINES['voice']}{text}"
    if text:
        return text
    return MESSAGE_LINES.get(ctx.msg_type, f"「{ctx.msg_type}」")


async def hand_off(ctx: Context, reason: Reason) -> Reply:
    """The bot cannot answer this message itself: queue it for staff, and tell the buyer when
    staff will answer (the first time, and again after a quiet while)."""
    ctx.notes["handoff"] = reason
    now = ctx.now()
    config = ctx.config.inbox
    again_after = timedelta(minutes=config.reacknowledge_after_minutes) or None
    handoff = await hand_over(
        ctx.session, ctx.buyer, thread_line(ctx), now, person=reason == PERSON,
        again_after=again_after,
    )  # fmt: skip
    if config.transfer_to_wechat_kf:  # WeChat's own tool gets it; keep_in_thread transfers
        ctx.notes["transfer_to_kf"] = True
        return Reply.nothing()
    if not handoff.acknowledge:
        return Reply.nothing()
    if handoff.again:
        staff_in = hours.is_open(config, now)
        when = "" if staff_in else hours.when_words(config, now)
        text = ctx.render("inbox_ack_again", staff_in=staff_in, when=when)
    elif hours.is_open(config, now):
        text = ctx.render("inbox_ack_open")
    else:
        text = ctx.render("inbox_ack_closed", when=hours.when_words(config, now))
    record_bot_reply(ctx.session, handoff.conversation, text, now)
    return Reply(text)


async def keep_in_thread(ctx: Context, reply: Reply) -> Reply:
    """Reply hook: a message the bot answered, from a buyer with an open conversation, goes
    into the thread too (it does not make the buyer wait)."""
    if ctx.notes.get("transfer_to_kf"):  # last hook: nothing may change this reply after
        return Reply.transfer_to_kf()
    database = ctx.config.database.url
    if "handoff" in ctx.notes:
        opened(database, ctx.buyer.id)
        return reply
    if ctx.msg_type == "event":
        return reply
    if await may_be_open(database, ctx.buyer.id, lambda: ctx.session):
        await append_if_open(ctx.session, ctx.buyer, thread_line(ctx), reply.text, ctx.now())
    return reply


@router.text(intent("person"))
async def ask_for_person(ctx: Context) -> Reply:
    return await hand_off(ctx, PERSON)


async def fallback(ctx: Context) -> Reply:
    """Anything no handler answered: events get no answer, messages are handed off."""
    if ctx.msg_type == "event":
        return Reply.nothing()
    return await hand_off(ctx, NOT_UNDERSTOOD)
