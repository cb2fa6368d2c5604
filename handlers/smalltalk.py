"""Courtesy and small talk: 你好, 在吗, 谢谢, 好的, 收到, 辛苦了, 再见, 新年快乐, 👍 🙏 get a
short human answer.

What the intent model reads as courtesy (``handlers/intents.py`` decides) is answered from
``templates/messages/courtesy.j2`` by its kind (greeting, thanks, toil, bye, ack, festive),
never with the help menu. This router sits after the card's form router, so 好的 answering the card's
consent notice or confirmation is the card's, not small talk. Nothing is stored.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent, intent_of

router = Router("smalltalk")


@router.text(intent("courtesy"))
async def courtesy(ctx: Context) -> Reply:
    found = intent_of(ctx)
    return Reply(ctx.render("courtesy", kind=found.kind if found else "ack"))
