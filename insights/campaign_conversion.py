"""Campaign conversion (活动转化): reached → replied within 48 h → ordered within 7 days.

Per campaign: *reached* are the buyers a step of it was sent to (a ``sent`` delivery);
*replied* those of them who sent a message (events excluded) within 48 hours after one of
the sends they got; *ordered* those with a counted order within 7 days after one. The rule
is the campaign report's (``scheduler/reports.py``), so both pages give the same numbers. A period's campaigns
are those with a step due in it; per kind the campaigns' figures are summed (buyer-campaign
pairs). The counts of a period are final 7 days after it ends (orders may still come in).

This module reads deliveries; it does not send (``scheduler/``) or report on sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from insights.figures import count_of
from insights.periods import DateRange, previous, whole
from insights.rollups import cached
from scheduler.models import KINDS, SENT, Campaign, CampaignStep, Delivery
from scheduler.reports import ORDER_WINDOW_S, REPLY_WINDOW_S, ordered_within, replied_within

ORDER_WITHIN = timedelta(seconds=ORDER_WINDOW_S)
STAGES = ("reached", "replied", "ordered")


@dataclass
class CampaignFigures:
    campaign_id: int
    name: str
    kind: str
    first_due: str
    reached: int
    replied: int
    ordered: int


@dataclass
class Conversion:
    campaigns: list[CampaignFigures]
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    by_kind_previous: dict[str, dict[str, int]] = field(default_factory=dict)


def campaign_buyers(campaign_id: int, stage: str) -> Select:
    """The buyer ids behind one stage of one campaign (reached: a send was ``sent``; replied
    and ordered: ``scheduler.reports``' definition, after any of the buyer's sends)."""
    d = Delivery
    query = select(d.buyer_id.label("buyer_id")).where(
        d.campaign_id == campaign_id, d.status == SENT
    )
    if stage == "replied":
        query = query.where(replied_within(REPLY_WINDOW_S))
    elif stage == "ordered":
        query = query.where(ordered_within(ORDER_WINDOW_S))
    return query.distinct()


async def _campaigns_in(session: AsyncSession, lo: datetime, hi: datetime):
    """(id, name, kind, first step due, last step due) of the campaigns with a step due in
    ``[lo, hi)``, latest first."""
    steps = CampaignStep.__table__.alias()
    last_due = (
        select(func.max(steps.c.due_at)).where(steps.c.campaign_id == Campaign.id)
    ).scalar_subquery()
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.kind, func.min(CampaignStep.due_at), last_due)
        .join(CampaignStep, CampaignStep.campaign_id == Campaign.id)
        .where(CampaignStep.due_at >= lo, CampaignStep.due_at < hi)
        .group_by(Campaign.id, Campaign.name, Campaign.kind)
        .order_by(func.min(CampaignStep.due_at).desc())
    )
    return rows.all()


def _key(campaign_id: int, stage: str, last_due: datetime) -> tuple[str, datetime, datetime]:
    """A campaign's counts are its own, whatever the period: they are final once its last
    step is 7 days past (a step sent later than due only delays that a little: the cache
    keeps a running count fresh for minutes, and the key then stays until invalidated)."""
    end = last_due + ORDER_WITHIN
    return (f"campaign:{campaign_id}:{stage}", end, end)


async def campaign_conversion(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> Conversion:
    """The period's campaigns (latest first) and the sums per kind, with the previous period's."""
    now = clock.now()
    here, before = whole(period, timezone), whole(previous(period), timezone)
    listed = {b: await _campaigns_in(session, b.lo, b.hi) for b in (here, before)}
    plan = {}
    for rows in listed.values():
        for cid, _name, _kind, _first, last in rows:
            for stage in STAGES:
                plan[_key(cid, stage, last)] = (cid, stage)

    async def compute(missing):
        out = {}
        for key in missing:
            cid, stage = plan[key]
            query = count_of(campaign_buyers(cid, stage))
            out[key] = float((await session.execute(query)).scalar_one())
        return out

    got = await cached(session, list(plan), compute, now)

    def figures(rows) -> list[CampaignFigures]:
        out = []
        for cid, name, kind, due, last in rows:
            n = [int(got[_key(cid, s, last)] or 0) for s in STAGES]
            out.append(CampaignFigures(cid, name, kind, due.isoformat(), *n))
        return out

    def per_kind(items: list[CampaignFigures]) -> dict[str, dict[str, int]]:
        sums = {k: {s: 0 for s in ("campaigns", *STAGES)} for k in KINDS}
        for c in items:
            row = sums.setdefault(c.kind, {s: 0 for s in ("campaigns", *STAGES)})
            row["campaigns"] += 1
            for s in STAGES:
                row[s] += getattr(c, s)
        return sums

    current = figures(listed[here])
    return Conversion(current, per_kind(current), per_kind(figures(listed[before])))
