"""A close as staff and the scheduler start it: close the period, then tell its buyers.

``close_and_notify`` is what ``laoke statements close``, the console's 结账 button and the
daily run (``daily_close``, a leader job of the scheduler at ``[statements] close_at``) call.
Telling buyers after the commit means a failed send never undoes a close; a run that stops
between the two is completed by the next one, which tells only those not told yet.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from statements.close import (
    SCHEDULE_ACTOR,
    CloseResult,
    Recorder,
    close_due,
    close_period,
    last_closed,
)
from statements.notices import notify_period
from statements.periods import parse_period

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.dialog.context import Services

log = logging.getLogger(__name__)


async def close_and_notify(
    sessionmaker: async_sessionmaker[AsyncSession], services: Services, key: str, *,
    actor: str, notify: bool = True, record: Recorder | None = None,
) -> tuple[CloseResult, dict[str, int]]:  # fmt: skip
    """Close period `key` (PeriodError if it may not close) and tell its buyers; `record` runs
    inside the closing transaction (``close.close_period``)."""
    config = services.config
    period = parse_period(key, config.statements.period, config.orders.timezone)
    result = await close_period(
        sessionmaker, period, actor=actor, now=services.clock.now(), record=record
    )
    told = await notify_period(sessionmaker, services, period.key) if notify else {}
    return result, told


async def daily_close(sessionmaker: async_sessionmaker[AsyncSession], services: Services) -> None:
    """The daily run: close what is due and tell buyers (also those a stopped run missed)."""
    results = await close_due(sessionmaker, services.config, services.clock.now())
    async with sessionmaker() as session:
        last = await last_closed(session)
    keys = [r.key for r in results] or ([last.key] if last is not None else [])
    for key in keys:
        told = await notify_period(sessionmaker, services, key)
        if told:
            log.info("statements: buyers of %s told: %s", key, told)


__all__ = ["SCHEDULE_ACTOR", "close_and_notify", "daily_close"]
