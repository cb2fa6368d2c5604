"""Campaigns at a glance, and what holds recipients back: the console's campaign list and the
summary shown before scheduling.

``campaign_rows`` lists campaigns newest first with their live counts (recipients, sent,
pending, the send rate over the last minute), the next step due and the funnel reached →
replied within 48 h → ordered within 7 days, counted for the listed campaigns together.
``schedule_summary`` adds to the reach report (``scheduler/previews.py``) how many buyers of
the segment are opted out, how many a frequency cap would hold back now, and whether the next
step falls in quiet hours. Counts are taken now; this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import CampaignsConfig
from bot.models import Buyer
from bot.wechat.channels import SERVICE_ACCOUNT, Account
from scheduler.campaigns import list_steps
from scheduler.loop import segment_condition
from scheduler.models import (
    CLAIMED,
    PENDING,
    SENDING,
    SENT,
    STEP_PENDING,
    Campaign,
    CampaignStep,
    Delivery,
)
from scheduler.previews import reach_report, recipients
from scheduler.reports import ORDER_WINDOW_S, REPLY_WINDOW_S, ordered_within, replied_within
from scheduler.sender import in_quiet_hours

WAITING = (PENDING, CLAIMED, SENDING)


@dataclass
class CampaignRow:
    campaign: Campaign
    recipients: int = 0
    sent: int = 0
    pending: int = 0
    per_minute: int = 0
    next_due: datetime | None = None
    funnel: dict[str, int] = field(default_factory=lambda: {"reached": 0, "replied": 0,
                                                            "ordered": 0})  # fmt: skip


async def campaign_rows(
    session: AsyncSession, now: datetime, *, status: str | None = None, limit: int = 100
) -> list[CampaignRow]:
    """Campaigns newest first (only `status` when given) with their live counts."""
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
    if status:
        query = query.where(Campaign.status == status)
    rows = {c.id: CampaignRow(c) for c in await session.scalars(query)}
    if not rows:
        return []
    ids = list(rows)
    of = Delivery.campaign_id.in_(ids)
    counts = await session.execute(
        select(
            Delivery.campaign_id,
            func.count(),
            func.count().filter(Delivery.status == SENT),
            func.count().filter(Delivery.status.in_(WAITING)),
            func.count().filter(Delivery.sent_at > now - timedelta(minutes=1)),
        )
        .where(of)
        .group_by(Delivery.campaign_id)
    )
    for cid, total, sent, waiting, last_minute in counts:
        row = rows[cid]
        row.recipients, row.sent, row.pending, row.per_minute = total, sent, waiting, last_minute
    due = await session.execute(
        select(CampaignStep.campaign_id, func.min(CampaignStep.due_at))
        .where(CampaignStep.campaign_id.in_(ids), CampaignStep.status == STEP_PENDING)
        .group_by(CampaignStep.campaign_id)
    )
    for cid, at in due:
        rows[cid].next_due = at
    reached = select(Delivery.campaign_id, func.count(distinct(Delivery.buyer_id))).where(
        of, Delivery.status == SENT
    )
    for key, extra in (
        ("reached", None),
        ("replied", replied_within(REPLY_WINDOW_S)),
        ("ordered", ordered_within(ORDER_WINDOW_S)),
    ):
        query = reached if extra is None else reached.where(extra)
        for cid, n in await session.execute(query.group_by(Delivery.campaign_id)):
            rows[cid].funnel[key] = n
    return list(rows.values())


async def schedule_summary(
    session: AsyncSession,
    campaign: Campaign,
    now: datetime,
    cfg: CampaignsConfig,
    account: Account = SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """Reach now plus what holds buyers back: opt-outs, caps, quiet hours. Most of the
    audience unreachable (``mostly_unreachable``) asks the operator to confirm."""
    report = await reach_report(session, campaign, now, account)
    segment = await segment_condition(session, campaign, now)
    opted_out = await session.scalar(
        select(func.count())
        .select_from(Buyer)
        .where(segment, Buyer.subscribed.is_(True), Buyer.opted_out.is_(True))
    )
    capped = 0
    if not campaign.all_day and cfg.cap_per_day:
        other_send = exists().where(
            Delivery.buyer_id == Buyer.id,
            Delivery.campaign_id != campaign.id,
            Delivery.status == SENT,
            Delivery.sent_at > now - timedelta(days=1),
        )
        recent = (
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.buyer_id == Buyer.id,
                Delivery.campaign_id != campaign.id,
                Delivery.status == SENT,
                Delivery.sent_at > now - timedelta(days=1),
            )
            .scalar_subquery()
        )
        capped = await session.scalar(
            select(func.count())
            .select_from(Buyer)
            .where(and_(await recipients(session, campaign, now), other_send,
                        recent >= cfg.cap_per_day))
        )  # fmt: skip
    steps = await list_steps(session, campaign.id)
    upcoming = next((s for s in steps if s.status == STEP_PENDING), None)
    quiet = (
        not campaign.all_day
        and upcoming is not None
        and in_quiet_hours(max(upcoming.due_at, now), cfg.quiet_start, cfg.quiet_end,
                           ZoneInfo(cfg.timezone))
    )  # fmt: skip
    reach = report["reach"]
    mostly_unreachable = reach["recipients"] > 0 and reach["unreachable"] * 2 > reach["recipients"]
    return {
        **report,
        "opted_out": int(opted_out or 0),
        "capped": int(capped or 0),
        "quiet": quiet,
        "mostly_unreachable": mostly_unreachable or reach["recipients"] == 0,
    }
