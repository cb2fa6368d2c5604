"""Help: the keyword 帮助 (and 你能做什么, 怎么用) answers with the menu; a greeting (你好, 在吗)
gets a greeting that points here (``handlers/smalltalk.py``).

What the bot does not understand is handed off in ``handlers/handoff.py``, which answers with
this same menu for now."""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent

router = Router("help")


@router.click("HELP")
@router.text(intent("help"))
@router.text(keywords=("帮助", "help", "?", "？", "菜单"))
async def help_reply(ctx: Context) -> Reply:
    return Reply(ctx.render("help"))
