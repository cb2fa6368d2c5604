"""A cache of counts over time intervals, shared by whoever derives counts and whoever changes
the data they are derived from.

The dashboard (``insights/rollups.py``) stores its counts here; a feature that changes dated
data (an order import, orders relinked to a buyer, a buyer's data erased) calls
:func:`invalidate_from` with the oldest date it touched, without knowing the dashboard. It
lives in ``bot`` so that both sides can reach it without importing each other; it holds no
meaning of any count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base


class DashboardRollup(Base):
    __tablename__ = "dashboard_rollups"

    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    lo: Mapped[datetime] = mapped_column(primary_key=True)
    hi: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    final: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime]

    __table_args__ = (Index("ix_dashboard_rollups_hi", "hi"),)


ROLLUPS = DashboardRollup.__table__


async def invalidate_from(session: AsyncSession, since: datetime) -> int:
    """Forget every count that data dated `since` could change; returns rows dropped."""
    result = await session.execute(delete(ROLLUPS).where(ROLLUPS.c.hi > since))
    return max(result.rowcount or 0, 0)


async def clear(session: AsyncSession) -> None:
    await session.execute(delete(ROLLUPS))
