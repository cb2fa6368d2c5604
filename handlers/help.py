"""Help: the keyword 帮助 and the fallback for anything the bot does not understand."""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router

router = Router("help")


@router.click("HELP")
@router.text(keywords=("帮助", "help", "?", "？", "菜单"))
async def help_reply(ctx: Context) -> Reply:
    return Reply(ctx.render("help"))


async def fallback(ctx: Context) -> Reply:
    """Anything unrecognised: events get no answer, messages get the help text."""
    if ctx.msg_type == "event":
        return Reply.nothing()
    return Reply(ctx.render("help"))
