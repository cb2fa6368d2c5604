"""Campaign conversion (活动转化): reached → replied within 48 h → ordered within 7 days.

Per campaign: *reached* are the buyers a step of it was sent to (a ``sent`` delivery);
*replied* those of them who sent a message (events excluded) within 48 hours of the first
send they got; *ordered* those with a counted order within 7 days of it. A period's campaigns
are those with a step due in it; per kind the campaigns' figures are summed (buyer-campaign
pairs). The counts of a period are final 7 days after it ends (orders may still come in).

This module reads deliveries; it does not send (``scheduler/``) or report on sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Interval, Select, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.models import InboundMessage
from bot.orders import Order
from insights.figures import count_of
from insights.periods import DateRange, previous, whole
from insights.rollups import cached
from scheduler.models import KINDS, SENT, Campaign, CampaignStep, Delivery

REPLY_WITHIN = timedelta(hours=48)
ORDER_WITHIN = timedelta(days=7)
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


def _plus(col, delta: timedelta, dialect: str):
    """`col` + `delta` in SQL (SQLite stores text with microseconds; PostgreSQL intervals)."""
    if dialect == "sqlite":
        seconds = f"+{int(delta.total_seconds())} seconds"
        return func.strftime("%Y-%m-%d %H:%M:%f000", col, seconds)
    return col + literal(delta, Interval())


def campaign_buyers(campaign_id: int, stage: str, dialect: str) -> Select:
    """The buyer ids behind one stage of one campaign."""
    d = Delivery
    first = (
        select(d.buyer_id, d.openid, func.min(d.sent_at).label("first"))
        .where(d.campaign_id == campaign_id, d.status == SENT)
        .group_by(d.buyer_id, d.openid)
        .subquery()
    )
    query = select(first.c.buyer_id.label("buyer_id"))
    if stage == "replied":
        m = InboundMessage
        query = query.where(
            exists().where(
                m.openid == first.c.openid,
                m.msg_type != "event",
                m.received_at >= first.c.first,
                m.received_at < _plus(first.c.first, REPLY_WITHIN, dialect),
            )
        )
    elif stage == "ordered":
        o = Order
        query = query.where(
            exists().where(
                o.buyer_id == first.c.buyer_id,
                o.counted.is_(True),
                o.ordered_at >= first.c.first,
                o.ordered_at < _plus(first.c.first, ORDER_WITHIN, dialect),
            )
        )
    return query


async def _campaigns_in(session: AsyncSession, lo: datetime, hi: datetime):
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.kind, func.min(CampaignStep.due_at))
        .join(CampaignStep, CampaignStep.campaign_id == Campaign.id)
        .where(CampaignStep.due_at >= lo, CampaignStep.due_at < hi)
        .group_by(Campaign.id, Campaign.name, Campaign.kind)
        .order_by(func.min(CampaignStep.due_at).desc())
    )
    return rows.all()


async def campaign_conversion(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> Conversion:
    """The period's campaigns (latest first) and the sums per kind, with the previous period's."""
    now = clock.now()
    dialect = (await session.connection()).dialect.name
    here, before = whole(period, timezone), whole(previous(period), timezone)
    listed = {b: await _campaigns_in(session, b.lo, b.hi) for b in (here, before)}
    plan = {}
    for b, rows in listed.items():
        for cid, *_ in rows:
            for stage in STAGES:
                plan[(f"campaign:{cid}:{stage}", b.lo, b.hi + ORDER_WITHIN)] = (cid, stage)

    async def compute(missing):
        out = {}
        for key in missing:
            cid, stage = plan[key]
            query = count_of(campaign_buyers(cid, stage, dialect))
            out[key] = float((await session.execute(query)).scalar_one())
        return out

    got = await cached(session, list(plan), compute, now)

    def figures(b, rows) -> list[CampaignFigures]:
        out = []
        for cid, name, kind, due in rows:
            n = [int(got[(f"campaign:{cid}:{s}", b.lo, b.hi + ORDER_WITHIN)] or 0) for s in STAGES]
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

    current = figures(here, listed[here])
    return Conversion(current, per_kind(current), per_kind(figures(before, listed[before])))
