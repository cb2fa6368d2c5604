"""The live report of a campaign: who it reached, what happened to each send, what it led to.

Everything is counted in the database from the delivery rows (the record of every campaign
send, ``scheduler/models.py``), so the report is live while a campaign is still sending:

- recipients: delivery rows (one per buyer and step) and the distinct buyers behind them;
- outcomes: sent, failed, skipped, uncertain and still pending, each by reason and channel;
- per step: the same totals for the announcement, each reminder or wave;
- conversion: of the buyers a send reached, how many wrote back (a message, not an event)
  within 48 hours after a send (``inbound_messages`` by openid) and how many placed a
  counted order within 7 days after one (``orders`` by buyer) — the one definition, below.

``recipient_page`` lists the recipients themselves (one row per buyer and step, with the
outcome and reason), filterable by outcome and paged by delivery id, for the console's
recipients list and its CSV export.

This module only reads; it never changes a campaign or a delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.models import Buyer, InboundMessage
from members.orders import Order
from scheduler.campaigns import get_campaign, list_steps
from scheduler.mass_sends import campaign_mass_report
from scheduler.models import (
    CLAIMED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNCERTAIN,
    CampaignStep,
    Delivery,
)

REPLY_WINDOW_S = 48 * 3600
ORDER_WINDOW_S = 7 * 86400
OUTCOMES = (SENT, FAILED, SKIPPED, UNCERTAIN)


class _within_after(FunctionElement):  # noqa: N801 (a SQL construct)
    """later is after earlier, by at most `seconds` (datetime arithmetic differs per dialect)."""

    type = Boolean()
    inherit_cache = True
    name = "within_after"
    _is_implicitly_boolean = True


@compiles(_within_after, "sqlite")
def _within_after_sqlite(element: _within_after, compiler: Any, **kw: Any) -> str:
    # Stored as ISO text in one format, so ">" compares correctly; julianday does the sum.
    later, earlier, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"({later} > {earlier} AND "
        f"julianday({later}) <= julianday({earlier}) + {seconds} / 86400.0)"
    )


@compiles(_within_after, "postgresql")
def _within_after_postgresql(element: _within_after, compiler: Any, **kw: Any) -> str:
    later, earlier, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"({later} > {earlier} AND "
        f"{later} <= {earlier} + make_interval(secs => CAST({seconds} AS INTEGER)))"
    )


def within_after(later: Any, earlier: Any, seconds: int) -> ColumnElement[bool]:
    """`later` falls in the `seconds` after `earlier` (exclusive start, inclusive end)."""
    return _within_after(later, earlier, seconds)


# The one definition of a campaign's conversion, used by this report, the campaign list
# (scheduler/overview.py) and the dashboard's 活动转化 (insights/campaign_conversion.py):
# of a delivery row that was sent, the buyer *replied* when they sent a message (not an
# event: a menu click, a scan or an unfollow answers nothing) within 48 hours after that
# send, and *ordered* when a counted order of theirs is dated within 7 days after it. A
# buyer converts when any send of the campaign they got is followed so.


def _replied(seconds: int) -> ColumnElement[bool]:
    """The delivery's buyer wrote a message (not an event) within `seconds` after it."""
    return exists().where(
        InboundMessage.openid == Delivery.openid,
        InboundMessage.msg_type != "event",
        within_after(InboundMessage.received_at, Delivery.sent_at, seconds),
    )


def _ordered(seconds: int) -> ColumnElement[bool]:
    """The delivery's buyer has a counted order dated within `seconds` after it."""
    return exists().where(
        Order.buyer_id == Delivery.buyer_id,
        Order.counted.is_(True),
        within_after(Order.ordered_at, Delivery.sent_at, seconds),
    )


replied_within, ordered_within = _replied, _ordered  # the campaign list counts the same way


def _outcome(status: str) -> str:
    return "pending" if status in (PENDING, CLAIMED, SENDING) else status


def _blank_totals() -> dict[str, int]:
    return {"recipients": 0, **{o: 0 for o in OUTCOMES}, "pending": 0}


async def campaign_report(session: AsyncSession, campaign_id: int) -> dict[str, Any]:
    """The campaign's report as JSON-safe data (CampaignError if there is no such campaign)."""
    campaign = await get_campaign(session, campaign_id)
    of_campaign = Delivery.campaign_id == campaign_id

    outcomes: dict[str, dict[str, Any]] = {
        o: {"total": 0, "by_reason": {}, "by_channel": {}} for o in (*OUTCOMES, "pending")
    }
    totals = _blank_totals()
    steps: dict[int, dict[str, int]] = {}
    rows = await session.execute(
        select(Delivery.step_id, Delivery.status, Delivery.reason, Delivery.channel, func.count())
        .where(of_campaign)
        .group_by(Delivery.step_id, Delivery.status, Delivery.reason, Delivery.channel)
    )
    for step_id, status, reason, channel, count in rows:
        outcome = _outcome(status)
        entry = outcomes[outcome]
        entry["total"] += count
        if reason:
            entry["by_reason"][reason] = entry["by_reason"].get(reason, 0) + count
        if channel:
            entry["by_channel"][channel] = entry["by_channel"].get(channel, 0) + count
        step_totals = steps.setdefault(step_id, _blank_totals())
        for bucket in (totals, step_totals):
            bucket["recipients"] += count
            bucket[outcome] += count

    buyers = await session.scalar(
        select(func.count(distinct(Delivery.buyer_id))).where(of_campaign)
    )
    reached = select(Delivery.buyer_id).where(of_campaign, Delivery.status == SENT)
    conversion = {
        "reached": await _count_buyers(session, reached),
        "replied_48h": await _count_buyers(session, reached.where(_replied(REPLY_WINDOW_S))),
        "ordered_7d": await _count_buyers(session, reached.where(_ordered(ORDER_WINDOW_S))),
    }
    conversion["reply_rate"] = _rate(conversion["replied_48h"], conversion["reached"])
    conversion["order_rate"] = _rate(conversion["ordered_7d"], conversion["reached"])

    return {
        "campaign": {
            "id": campaign.id,
            "name": campaign.name,
            "kind": campaign.kind,
            "status": campaign.status,
        },
        **totals,
        "buyers": int(buyers or 0),
        "outcomes": outcomes,
        "steps": [
            {
                "id": step.id,
                "kind": step.kind,
                "due_at": step.due_at.isoformat(),
                "status": step.status,
                "note": step.note,
                **steps.get(step.id, _blank_totals()),
            }
            for step in await list_steps(session, campaign_id)
        ],
        "conversion": conversion,
        # WeChat's own counts of the campaign's mass sends (MASSSENDJOBFINISH).
        "mass": await campaign_mass_report(session, campaign_id),
    }


async def _count_buyers(session: AsyncSession, deliveries: Any) -> int:
    """Distinct buyers among the delivery rows a query selects."""
    inner = deliveries.subquery()
    return int(await session.scalar(select(func.count(distinct(inner.c.buyer_id)))) or 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_is_balanced(report: dict[str, Any]) -> bool:
    """recipients = sent + failed + skipped + uncertain + pending (the accounting identity)."""
    return report["recipients"] == sum(report[o] for o in (*OUTCOMES, "pending"))


OUTCOME_STATUSES = {
    SENT: (SENT,),
    FAILED: (FAILED,),
    SKIPPED: (SKIPPED,),
    UNCERTAIN: (UNCERTAIN,),
    "pending": (PENDING, CLAIMED, SENDING),  # a row on its way to WeChat is still pending
}


@dataclass(frozen=True)
class RecipientRow:
    """One recipient of one step, as the recipients list and its export show it."""

    id: int
    buyer_id: int
    display_name: str | None
    company: str | None
    tier_key: str | None
    step_kind: str
    step_seq: int
    outcome: str
    reason: str | None
    channel: str | None
    errcode: int | None
    sent_at: datetime | None


async def recipient_page(
    session: AsyncSession,
    campaign_id: int,
    *,
    outcome: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[RecipientRow]:
    """Recipients of the campaign in delivery-id order after `after_id` (keyset paging),
    only those with `outcome` (sent, failed, skipped, uncertain, pending) when given."""
    query = (
        select(
            Delivery.id,
            Delivery.buyer_id,
            Buyer.display_name,
            Buyer.company,
            Buyer.tier_key,
            CampaignStep.kind,
            CampaignStep.seq,
            Delivery.status,
            Delivery.reason,
            Delivery.channel,
            Delivery.errcode,
            Delivery.sent_at,
        )
        .join(CampaignStep, CampaignStep.id == Delivery.step_id)
        .outerjoin(Buyer, Buyer.id == Delivery.buyer_id)  # an erased buyer keeps the row
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
        .limit(limit)
    )
    if outcome is not None:
        query = query.where(Delivery.status.in_(OUTCOME_STATUSES[outcome]))
    if after_id is not None:
        query = query.where(Delivery.id > after_id)
    return [
        RecipientRow(*row[:7], _outcome(row[7]), *row[8:]) for row in await session.execute(query)
    ]
