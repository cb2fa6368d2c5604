"""Messages the bot cannot answer itself: a request for a person, and everything not understood.

Both end in ``hand_off(ctx, reason)``, the one place the staff inbox will plug into. Today
it records the outcome on ``ctx.notes["handoff"]`` (``PERSON`` or ``NOT_UNDERSTOOD``) and
answers as the bot always has: the help menu, led for a request for a person by an honest
line that no one can be reached here yet. When the inbox lands, ``hand_off`` queues the
conversation for staff and answers with the acknowledgement (once per conversation) instead;
its callers do not change.

Order: ``ask_for_person`` (人工, 客服, 找老板, 转人工 … see ``handlers/intents.py``) sits after
the card's form router, so an answer to a card question is never taken for it; ``fallback``
is the dispatcher's fallback. Events no handler wanted get no answer and are no handoff.
"""

from __future__ import annotations

from typing import Literal

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent

router = Router("handoff")

PERSON = "person"
NOT_UNDERSTOOD = "not_understood"
Reason = Literal["person", "not_understood"]


async def hand_off(ctx: Context, reason: Reason) -> Reply:
    """The bot cannot answer this message itself: record why, and tell the buyer."""
    ctx.notes["handoff"] = reason
    if reason == PERSON:
        return Reply(ctx.render("handoff_person"))
    return Reply(ctx.render("help"))


@router.text(intent("person"))
async def ask_for_person(ctx: Context) -> Reply:
    return await hand_off(ctx, PERSON)


async def fallback(ctx: Context) -> Reply:
    """Anything no handler answered: events get no answer, messages are handed off."""
    if ctx.msg_type == "event":
        return Reply.nothing()
    return await hand_off(ctx, NOT_UNDERSTOOD)
