"""Livestreams as the buyer meets them: 直播 tells the next one, 预约 / 提醒我 RSVPs.

An RSVP is recorded for the next livestream campaign (idempotent: asking twice keeps one
RSVP) and guarantees the buyer its start reminder, even outside the campaign's segment and
even after 退订 — the buyer asked for it. The campaigns themselves (what is next, the RSVP
table, the reminder) belong to ``scheduler/campaigns.py``; this module only talks.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import Context, Reply
from bot.routing import Router
from scheduler.campaigns import add_rsvp, next_livestream
from scheduler.models import Campaign, Rsvp

router = Router("live")

LIVE_WORDS = ("直播", "下一场直播", "直播预告", "直播时间")
RSVP_WORDS = ("预约", "提醒我", "预约直播", "直播提醒")


def _shown(ctx: Context, campaign: Campaign) -> dict[str, str]:
    """What the buyer is told about a livestream: its title, link and local start time."""
    start = datetime.fromisoformat(campaign.params["start_at"])
    local = start.astimezone(ZoneInfo(ctx.config.campaigns.timezone))
    return {
        "title": campaign.params.get("title") or campaign.name,
        "link": campaign.params.get("link") or "",
        "start_local": f"{local.month}月{local.day}日 {local:%H:%M}",
    }


@router.text(keywords=LIVE_WORDS)
async def next_live(ctx: Context) -> Reply:
    campaign = await next_livestream(ctx.session, ctx.now())
    if campaign is None:
        return Reply(ctx.render("live_none"))
    rsvped = await ctx.session.get(Rsvp, (campaign.id, ctx.buyer.id)) is not None
    return Reply(ctx.render("live_next", rsvped=rsvped, **_shown(ctx, campaign)))


@router.text(keywords=RSVP_WORDS)
async def rsvp(ctx: Context) -> Reply:
    campaign = await next_livestream(ctx.session, ctx.now())
    if campaign is None:
        return Reply(ctx.render("live_none"))
    added = await add_rsvp(ctx.session, campaign.id, ctx.buyer.id, ctx.now())
    return Reply(ctx.render("live_rsvp", already=not added, **_shown(ctx, campaign)))
