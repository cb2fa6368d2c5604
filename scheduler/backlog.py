"""The delivery backlog the operators' alerts watch: how many deliveries are due and how long
the oldest has waited, and how many are in a sender's hands.

The process holding the scheduler lease measures it every ``BACKLOG_EVERY_S`` seconds (a
leader job, ``scheduler/engine.py``) and exports it as gauges; a process that loses the lease
drops them, so across processes the maximum is the leader's figure. Rows held back by quiet
hours count as due: the alert rules wait long enough, and docs/deployment.md says so. This
module decides nothing about sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.metrics import Metrics
from scheduler.delivery import running_campaigns
from scheduler.models import CLAIMED, PENDING, SENDING, Delivery

BACKLOG_EVERY_S = 15
IN_FLIGHT = (CLAIMED, SENDING)


@dataclass(frozen=True)
class Backlog:
    due: int
    oldest_due_s: float
    in_flight: dict[str, int]


async def delivery_backlog(session: AsyncSession, now: datetime) -> Backlog:
    """Due pending deliveries of running campaigns, the oldest one's wait, and those in flight."""
    campaigns = await running_campaigns(session)
    due, oldest = 0, None
    if campaigns:
        waiting_since = func.coalesce(Delivery.next_attempt_at, Delivery.created_at)
        due, oldest = (
            await session.execute(
                select(func.count(), func.min(waiting_since)).where(
                    Delivery.status == PENDING,
                    Delivery.campaign_id.in_(campaigns),
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                )
            )
        ).one()
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.status.in_(IN_FLIGHT))
        .group_by(Delivery.status)
    )
    in_flight = {status: 0 for status in IN_FLIGHT} | dict(rows.all())
    oldest_s = (now - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(due or 0, max(oldest_s, 0.0), in_flight)


def export(metrics: Metrics, backlog: Backlog | None) -> None:
    """Set the backlog gauges, or drop them (None) when this process stops leading."""
    if backlog is None:
        metrics.deliveries_due.set(float("nan"))
        metrics.deliveries_oldest_due_seconds.set(float("nan"))
        metrics.deliveries_in_flight.clear()
        return
    metrics.deliveries_due.set(backlog.due)
    metrics.deliveries_oldest_due_seconds.set(backlog.oldest_due_s)
    for status, n in backlog.in_flight.items():
        metrics.deliveries_in_flight.labels(status=status).set(n)
