"""The calendar of campaign steps: what is due in a date range, whom each step would reach, and
the days where pushes collide — two campaigns reaching the same buyers on one day, or more
pushes than the per-buyer caps (``[campaigns] cap_per_day`` / ``cap_per_week``) let through.

Everything is estimated now, in the database, in one scan of ``buyers`` for the whole view: a
filtered COUNT per campaign (its reachable buyers), per pair of campaigns on one day (the AND
of both segments) and per capped day or week (buyers in more segments than the cap allows).
Days and weeks are calendar days in the campaigns' time zone; the sender's caps count the last
24 hours and 7 days, so the figures are estimates, which is what a calendar needs. Steps that
already fanned out show their real recipient count. Bounded: at most ``MAX_STEPS`` steps and
``MAX_PAIRS`` overlap pairs per view. This module does not schedule or change campaigns.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from scheduler.models import (
    CANCELLED,
    DONE,
    STEP_CANCELLED,
    STEP_PENDING,
    Campaign,
    CampaignStep,
)
from scheduler.saved_segments import Segment
from scheduler.segments import SegmentError, compile_segment

MAX_STEPS = 300
MAX_PAIRS = 40
REACHABLE = and_(Buyer.subscribed.is_(True), Buyer.opted_out.is_(False))


@dataclass(frozen=True)
class Caps:
    per_day: int  # 0: no cap
    per_week: int


@dataclass
class CalendarStep:
    id: int
    campaign_id: int
    campaign_name: str
    campaign_status: str
    all_day: bool
    kind: str
    offset_s: int | None
    due_at: datetime
    day: date  # in the campaigns' time zone
    status: str
    segment: str  # the saved segment's name, "" for an inline one, None for everyone
    inline: bool
    estimate: int | None = None  # reachable buyers now (None: the segment is missing)


@dataclass(frozen=True)
class Overlap:
    first: str  # campaign names
    second: str
    shared: int  # reachable buyers in both segments


@dataclass
class DayNote:
    overlaps: list[Overlap] = field(default_factory=list)
    capped: int = 0  # buyers in more of the day's capped pushes than cap_per_day
    pushes: int = 0  # distinct capped campaigns that day


@dataclass
class Calendar:
    steps: list[CalendarStep]
    days: dict[date, DayNote]
    weeks: dict[date, DayNote]  # keyed by Monday
    truncated: bool  # more steps than MAX_STEPS, or pairs than MAX_PAIRS


async def calendar(
    session: AsyncSession, first: date, last: date, tz: ZoneInfo, caps: Caps, now: datetime
) -> Calendar:
    """Steps due from `first` to `last` (inclusive, in `tz`) of campaigns that may still send,
    with their estimates and the view's overlaps and cap pressure (one scan of buyers)."""
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    rows = (
        await session.execute(
            select(CampaignStep, Campaign)
            .join(Campaign, Campaign.id == CampaignStep.campaign_id)
            .where(
                CampaignStep.due_at >= start,
                CampaignStep.due_at < end,
                CampaignStep.status != STEP_CANCELLED,
                Campaign.status.not_in((CANCELLED, DONE)),
            )
            .order_by(CampaignStep.due_at, CampaignStep.id)
            .limit(MAX_STEPS + 1)
        )
    ).all()
    truncated = len(rows) > MAX_STEPS
    rows = rows[:MAX_STEPS]
    conditions = await _conditions(session, {c.id: c for _, c in rows}.values(), now)
    steps = [_step(s, c, tz) for s, c in rows]
    counts: list[tuple[str, Any, ColumnElement[Any]]] = []
    for cid, cond in conditions.items():
        if cond is not None:
            counts.append(("reach", cid, func.count().filter(and_(REACHABLE, cond))))
    days: dict[date, DayNote] = {}
    weeks: dict[date, DayNote] = {}
    by_day: dict[date, dict[int, CalendarStep]] = {}
    for step in steps:
        by_day.setdefault(step.day, {}).setdefault(step.campaign_id, step)
    pairs = 0
    for day, campaigns in sorted(by_day.items()):
        ids = [cid for cid in campaigns if conditions.get(cid) is not None]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if pairs >= MAX_PAIRS:
                    truncated = True
                    continue
                pairs += 1
                both = and_(REACHABLE, conditions[a], conditions[b])
                counts.append(("pair", (day, a, b), func.count().filter(both)))
        _cap(counts, "day", day, campaigns, conditions, caps.per_day, days)
    week_campaigns: dict[date, dict[int, CalendarStep]] = {}
    for day, campaigns in by_day.items():
        week_campaigns.setdefault(day - timedelta(days=day.weekday()), {}).update(campaigns)
    for monday, campaigns in sorted(week_campaigns.items()):
        _cap(counts, "week", monday, campaigns, conditions, caps.per_week, weeks)
    values = (
        (await session.execute(select(*(c for _, _, c in counts)).select_from(Buyer))).one()
        if counts
        else ()
    )
    reach: dict[int, int] = {}
    for (what, key, _), value in zip(counts, values, strict=True):
        value = int(value or 0)
        if what == "reach":
            reach[key] = value
        elif what == "pair":
            day, a, b = key
            if value:
                names = by_day[day]
                overlap = Overlap(names[a].campaign_name, names[b].campaign_name, value)
                days.setdefault(day, DayNote()).overlaps.append(overlap)
        elif what == "day":
            days[key].capped = value
        else:
            weeks[key].capped = value
    for step in steps:
        step.estimate = (
            step.estimate if step.status != STEP_PENDING else reach.get(step.campaign_id)
        )
    return Calendar(steps, days, weeks, truncated)


def _cap(
    counts: list[tuple[str, Any, ColumnElement[Any]]],
    what: str,
    key: date,
    campaigns: dict[int, CalendarStep],
    conditions: dict[int, ColumnElement[bool] | None],
    cap: int,
    notes: dict[date, DayNote],
) -> None:
    """Count buyers in more of these capped campaigns' segments than `cap` lets through."""
    capped = [cid for cid, s in campaigns.items() if not s.all_day]
    note = notes.setdefault(key, DayNote())
    note.pushes = len(capped)
    known = [conditions[cid] for cid in capped if conditions.get(cid) is not None]
    if not cap or len(known) <= cap:
        return
    hits = functools.reduce(operator.add, [case((cond, 1), else_=0) for cond in known])
    counts.append((what, key, func.count().filter(and_(REACHABLE, hits > cap))))


async def _conditions(
    session: AsyncSession, campaigns: Any, now: datetime
) -> dict[int, ColumnElement[bool] | None]:
    """Each campaign's segment as a condition (everyone when it has none; None when its saved
    segment is gone or no longer compiles, so nothing is estimated for it)."""
    campaigns = list(campaigns)
    names = {c.segment_name for c in campaigns if c.segment_name}
    saved = {}
    if names:
        saved = dict(
            (
                await session.execute(
                    select(Segment.name, Segment.spec).where(Segment.name.in_(names))
                )
            ).all()
        )
    out: dict[int, ColumnElement[bool] | None] = {}
    for c in campaigns:
        spec = saved.get(c.segment_name) if c.segment_name else c.segment
        if c.segment_name and spec is None:
            out[c.id] = None
            continue
        try:
            out[c.id] = true() if spec is None else compile_segment(spec, now)
        except SegmentError:
            out[c.id] = None
    return out


def _step(step: CampaignStep, campaign: Campaign, tz: ZoneInfo) -> CalendarStep:
    return CalendarStep(
        id=step.id,
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        campaign_status=campaign.status,
        all_day=campaign.all_day,
        kind=step.kind,
        offset_s=step.offset_s,
        due_at=step.due_at,
        day=step.due_at.astimezone(tz).date(),
        status=step.status,
        segment=campaign.segment_name or "",
        inline=campaign.segment is not None and not campaign.segment_name,
        estimate=None if step.status == STEP_PENDING else step.recipients,
    )
