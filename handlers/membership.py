"""Membership as the buyer meets it: the tier card, the badge on replies, waiting notices.

会员 / 等级 / 权益 / 我的等级 (and phrasings: 我是什么会员, 怎么升级) answer with the tier card (tier, perks, progress to the next
tier in money or orders, and the next rebate step of the period: 本季度再拿¥8,200 返点升到3%);
a buyer without a tier is told how to earn one. Two reply hooks
make the tier felt in every exchange: a waiting notice (a tier change that could not be
sent) is added to whatever the bot answers, and members' replies carry their badge
(e.g. 【金卡会员】). Tier decisions live in ``members/tiers.py``; nothing is decided here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import TierConfig
from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent
from members.tier_notices import mark_stored_notices_delivered
from members.tier_refresh import refresh_buyer_tier
from members.tiers import REPLY_LADDERS, Ladder, current_ladder
from statements.views import rebate_progress

router = Router("membership")

KEYWORDS = ("会员", "等级", "权益", "我的等级", "会员等级", "我的会员", "会员权益")


def shortfall(tier: TierConfig, orders: int, spend: float) -> tuple[int | None, int | None]:
    """What is missing to reach `tier`: whole yuan of spend, and orders (None: no such bar)."""
    need_spend = need_orders = None
    if tier.min_spend is not None:
        need_spend = max(math.ceil(round(tier.min_spend - spend, 2)), 0)
    if tier.min_orders is not None:
        need_orders = max(tier.min_orders - orders, 0)
    return need_spend, need_orders


def _local_date(ctx: Context, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(ctx.config.orders.timezone)).strftime("%Y-%m-%d")


@router.click("MEMBERSHIP")
@router.text(keywords=KEYWORDS)
@router.text(intent("tier"))
async def tier_card(ctx: Context) -> Reply:
    buyer = ctx.buyer
    now = ctx.now()
    if buyer.tier_manual_until is not None and buyer.tier_manual_until <= now:
        # The operator's tier expired since the last recompute: settle it before showing.
        await refresh_buyer_tier(ctx.session, buyer, ctx.services, in_conversation=True)
    ladder = await _ladder(ctx)
    tier = ladder.get(buyer.tier_key)
    next_tier = ladder.next_above(buyer.tier_key)
    orders, spend = buyer.orders_12m or 0, buyer.spend_12m or 0.0
    need_spend, need_orders = shortfall(next_tier, orders, spend) if next_tier else (None, None)
    grace_until = None
    if tier is not None and buyer.tier_below_since is not None and tier.grace_days:
        grace_until = _local_date(ctx, buyer.tier_below_since + timedelta(days=tier.grace_days))
    ctx.notes["badge_shown"] = True  # the card names the tier already
    return Reply(
        ctx.render(
            "tier_card" if tier else "tier_none",
            tier=tier,
            next_tier=next_tier,
            need_spend=need_spend,
            need_orders=need_orders,
            orders=orders,
            spend=spend,
            window_months=ctx.config.tiers.window_months,
            manual_until=_local_date(ctx, buyer.tier_manual_until)
            if buyer.tier_manual_key
            else None,
            grace_until=grace_until,
            rebate_progress=await rebate_progress(ctx.session, ctx.config, buyer, now)
            if buyer.id is not None
            else None,
        )
    )


async def pending_notice_hook(ctx: Context, reply: Reply) -> Reply:
    """Deliver a waiting notice with this reply (only when there is a reply to carry it)."""
    notice = ctx.buyer.pending_notice
    if not notice or reply.text is None or ctx.buyer.id is None:
        return reply
    ctx.buyer.pending_notice = None
    await mark_stored_notices_delivered(ctx.session, ctx.buyer.id)
    return Reply(f"{reply.text}\n\n{notice}")


async def badge_hook(ctx: Context, reply: Reply) -> Reply:
    """Members see their badge (【金卡会员】) at the head of every reply."""
    if reply.text is None or not ctx.buyer.tier_key or ctx.notes.get("badge_shown"):
        return reply
    tier = (await _ladder(ctx)).get(ctx.buyer.tier_key)
    if tier is None or not tier.badge or reply.text.startswith(tier.badge):
        return reply
    return Reply(f"{tier.badge}{reply.text}")


async def _ladder(ctx: Context) -> Ladder:
    """The ladder in force, without a database read on most replies (``REPLY_LADDERS``)."""
    return await REPLY_LADDERS.get(
        ctx.config.database.url, lambda: current_ladder(ctx.session, ctx.config.tiers)
    )
