"""Follow and unfollow: the welcome (which invites a card exchange) and the goodbye.

Subscription state itself is recorded by the webhook for every event (``bot/inbound/buyers.py``);
these handlers only decide what the buyer is told.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router

router = Router("welcome")


@router.event("subscribe", "subscribe_scan")
async def welcome(ctx: Context) -> Reply:
    return Reply(ctx.render("welcome"))


@router.event("unsubscribe")
async def goodbye(ctx: Context) -> Reply:
    # WeChat shows nothing to someone who just left; answer `success` and send nothing.
    return Reply.nothing()
