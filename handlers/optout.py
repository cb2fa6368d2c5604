"""Opt-out: 退订 stops campaign pushes, 订阅 resumes them.

Only campaign messages are held back (the delivery engine skips ``buyers.opted_out``);
replies to what the buyer writes keep working, and a livestream the buyer explicitly asked
to be reminded of (预约) is still announced at its start. Natural phrasings count too
(怎么退订, 别推了🙅, unsubscribe; see ``handlers/intents.py``), acted on only when the intent
model is very sure; one that only may mean an opt-out (消息太多了, 别烦我) gets a
confirmation question, never an opt-out. 我不想退订 and 退订单 (an order) are no opt-out. Unfollowing is a different thing
(``handlers/welcome.py``): WeChat itself then forbids every message.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent

router = Router("optout")

OPT_OUT_WORDS = ("退订", "取消订阅", "退订推送", "TD")
OPT_IN_WORDS = ("订阅", "恢复订阅", "恢复推送")


@router.text(keywords=OPT_OUT_WORDS)
@router.text(intent("opt_out"))
async def opt_out(ctx: Context) -> Reply:
    already = ctx.buyer.opted_out
    ctx.buyer.opted_out = True
    return Reply(ctx.render("optout_done", already=already))


@router.text(intent("opt_out_unsure"))
async def confirm_opt_out(ctx: Context) -> Reply:
    """A phrasing that may mean 退订: ask, and let the keyword itself do it."""
    if ctx.buyer.opted_out:
        return Reply(ctx.render("optout_done", already=True))
    return Reply(ctx.render("optout_confirm"))


@router.text(keywords=OPT_IN_WORDS)
@router.text(intent("opt_in"))
async def opt_in(ctx: Context) -> Reply:
    already = not ctx.buyer.opted_out
    ctx.buyer.opted_out = False
    return Reply(ctx.render("optout_resumed", already=already))
