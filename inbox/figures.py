"""The inbox's numbers for the dashboard: who waits now, how fast staff answer, who answers.

Each function is one read in the caller's session over a half-open period [lo, hi).
First-response time is the wait a staff reply ended (``InboxMessage.response_s``), so a
conversation answered twice in one wait counts once. It renders nothing (the console's
``/admin/inbox/kpis`` fragment does).
"""

from __future__ import annotations

import statistics
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.models import STAFF, Conversation, InboxMessage


async def unanswered_now(session: AsyncSession) -> int:
    """Conversations waiting for a staff reply right now."""
    stmt = (
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.waiting_since.is_not(None))
    )
    return int(await session.scalar(stmt) or 0)


async def median_first_response_s(
    session: AsyncSession, lo: datetime, hi: datetime
) -> float | None:
    """Median seconds from a buyer starting to wait to the staff reply that ended it (None:
    no such reply in the period)."""
    waits = (
        await session.scalars(
            select(InboxMessage.response_s).where(
                InboxMessage.author == STAFF,
                InboxMessage.created_at >= lo,
                InboxMessage.created_at < hi,
                InboxMessage.response_s.is_not(None),
            )
        )
    ).all()
    return statistics.median(waits) if waits else None


async def replies_per_staff(
    session: AsyncSession, lo: datetime, hi: datetime
) -> list[tuple[str, int]]:
    """(staff name, replies) in the period, most first."""
    count = func.count().label("n")
    stmt = (
        select(InboxMessage.staff_name, count)
        .where(
            InboxMessage.author == STAFF,
            InboxMessage.created_at >= lo,
            InboxMessage.created_at < hi,
        )
        .group_by(InboxMessage.staff_name)
        .order_by(count.desc(), InboxMessage.staff_name)
    )
    return [(name or "—", int(n)) for name, n in (await session.execute(stmt)).all()]
