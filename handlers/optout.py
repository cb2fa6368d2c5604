"""Opt-out: 退订 stops campaign pushes, 订阅 resumes them.

Only campaign messages are held back (the delivery engine skips ``buyers.opted_out``);
replies to what the buyer writes keep working, and a livestream the buyer explicitly asked
to be reminded of (预约) is still announced at its start. Unfollowing is a different thing
(``handlers/welcome.py``): WeChat itself then forbids every message.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router

router = Router("optout")

OPT_OUT_WORDS = ("退订", "取消订阅", "退订推送", "TD")
OPT_IN_WORDS = ("订阅", "恢复订阅", "恢复推送")


@router.text(keywords=OPT_OUT_WORDS)
async def opt_out(ctx: Context) -> Reply:
    already = ctx.buyer.opted_out
    ctx.buyer.opted_out = True
    return Reply(ctx.render("optout_done", already=already))


@router.text(keywords=OPT_IN_WORDS)
async def opt_in(ctx: Context) -> Reply:
    already = not ctx.buyer.opted_out
    ctx.buyer.opted_out = False
    return Reply(ctx.render("optout_resumed", already=already))
