"""Livestreams as the buyer meets them: 直播 tells the next one, 预约 / 提醒我 RSVPs (and
their phrasings: 下次直播什么时候, 开播提醒我).

直播 answers with the livestream on air (started, not yet at its ``end_at``; a livestream
stored before it had one is taken to last ``DEFAULT_DURATION_S``, two hours) if there is one,
otherwise the next scheduled one. An RSVP is recorded for the next livestream campaign (idempotent: asking twice keeps one
RSVP) and guarantees the buyer its start reminder, even outside the campaign's segment and
even after 退订 — the buyer asked for it. The campaigns themselves (what is next, the RSVP
table, the reminder) belong to ``scheduler/campaigns.py``; this module only talks. 直播 reads
the schedule held in memory (``scheduler/livestream_schedule.py``), so it opens no session
unless there is a next livestream (the buyer's RSVP is read then).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.intents import intent
from scheduler.campaigns import DEFAULT_DURATION_S, add_rsvp, next_livestream, next_of
from scheduler.livestream_schedule import Livestream, livestreams
from scheduler.models import DONE, LIVESTREAM, RUNNING, SCHEDULED, Campaign, Rsvp

router = Router("live")

LIVE_WORDS = ("直播", "下一场直播", "直播预告", "直播时间")
RSVP_WORDS = ("预约", "提醒我", "预约直播", "直播提醒")


def _start(campaign: Campaign | Livestream) -> datetime:
    return datetime.fromisoformat(campaign.params["start_at"])


def _end(campaign: Campaign | Livestream) -> datetime:
    end = campaign.params.get("end_at")
    if end:
        return datetime.fromisoformat(end)
    return _start(campaign) + timedelta(seconds=DEFAULT_DURATION_S)


async def _livestreams(session: AsyncSession) -> list[Campaign]:
    # A handful of rows: livestreams are scheduled a few at a time.
    rows = await session.scalars(
        select(Campaign).where(
            Campaign.kind == LIVESTREAM, Campaign.status.in_((SCHEDULED, RUNNING, DONE))
        )
    )
    return list(rows)


def _on_air(campaigns: Sequence[Campaign | Livestream], now: datetime) -> Any:
    on_air = [c for c in campaigns if _start(c) <= now < _end(c)]
    return max(on_air, key=_start, default=None)


async def livestream_on_air(session: AsyncSession, now: datetime) -> Campaign | None:
    """The livestream on air at `now` (started, not yet ended), if any (latest first)."""
    return _on_air(await _livestreams(session), now)


def _shown(ctx: Context, campaign: Campaign | Livestream) -> dict[str, str]:
    """What the buyer is told about a livestream: its title, link, local start and end time
    (never the campaign's name: that is the operator's internal label)."""
    tz = ZoneInfo(ctx.config.campaigns.timezone)
    local, end = _start(campaign).astimezone(tz), _end(campaign).astimezone(tz)
    return {
        "title": campaign.params.get("title") or "直播",
        "link": campaign.params.get("link") or "",
        "start_local": f"{local.month}月{local.day}日 {local:%H:%M}",
        "end_time": f"{end:%H:%M}",
    }


@router.click("LIVE")
@router.text(keywords=LIVE_WORDS)
@router.text(intent("live"))
async def next_live(ctx: Context) -> Reply:
    campaigns = await livestreams(ctx.config.database.url, lambda: ctx.session)
    on_air = _on_air(campaigns, ctx.now())
    if on_air is not None:
        return Reply(ctx.render("live_now", **_shown(ctx, on_air)))
    campaign = next_of(campaigns, ctx.now())
    if campaign is None:
        return Reply(ctx.render("live_none"))
    rsvped = await ctx.session.get(Rsvp, (campaign.id, ctx.buyer.id)) is not None
    return Reply(ctx.render("live_next", rsvped=rsvped, **_shown(ctx, campaign)))


@router.text(keywords=RSVP_WORDS)
@router.text(intent("rsvp"))
async def rsvp(ctx: Context) -> Reply:
    campaign = await next_livestream(ctx.session, ctx.now())
    if campaign is None:
        on_air = await livestream_on_air(ctx.session, ctx.now())
        if on_air is not None:  # nothing to wait for: send them in
            return Reply(ctx.render("live_now", **_shown(ctx, on_air)))
        return Reply(ctx.render("live_none"))
    added = await add_rsvp(ctx.session, campaign.id, ctx.buyer.id, ctx.now())
    return Reply(ctx.render("live_rsvp", already=not added, **_shown(ctx, campaign)))
