"""Keeps the dashboard's default views counted in the background, so no viewer waits.

A running count in ``dashboard_rollups`` is served for 10 minutes (an hour for a span over a
month) and then retaken by the next view, which then waits seconds at a million buyers. The
refresher retakes the counts of the range picker's presets (今天, 近7天, 近30天, 本月, 上月,
by day — the views staff open) every ``EVERY``, treating rows within ``AHEAD`` of expiring as
expired (``rollups.refreshing_ahead``), so they are replaced before they lapse: a view finds
them fresh. Final counts (intervals long over) are never retaken.

It runs in the process that runs the scheduler (``[server] run_scheduler``), started by the
composition root as a cleanup context. It does not decide what a figure means or render
anything; a custom range or another granularity is still counted on first view.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from bot.clock import Clock
from bot.config import Config
from insights.background import beside_scheduler
from insights.dashboard import dashboard
from insights.periods import PRESETS, preset
from insights.rollups import refreshing_ahead

log = logging.getLogger(__name__)

EVERY = timedelta(minutes=2)
# A run can take a minute at a million buyers; with EVERY that leaves margin before FRESH.
AHEAD = timedelta(minutes=5)
GRANULARITY = "day"


async def refresh_once(
    sessionmaker: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> float:
    """Retake every preset's counts that expire within AHEAD; returns the seconds it took."""
    started = time.perf_counter()
    tz = ZoneInfo(config.dashboard.timezone)
    today = clock.now().astimezone(tz).date()
    with refreshing_ahead(AHEAD):
        for key in PRESETS:
            async with sessionmaker.begin() as session:
                await dashboard(session, preset(key, today), GRANULARITY, tz, clock, config=config)
    return time.perf_counter() - started


async def refresh_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    config: Config,
    clock: Clock,
    every: timedelta = EVERY,
) -> None:
    """refresh_once every `every` (the first after one interval), until cancelled."""
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            took = await refresh_once(sessionmaker, config, clock)
            log.debug("dashboard refreshed in %.1f s", took)
        except Exception:  # a busy database: the next round tries again, views still count
            log.warning("dashboard refresh failed", exc_info=True)


async def dashboard_refresher(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the refresher runs beside the scheduler while the app runs."""
    config: Config = app[CONFIG]
    async with beside_scheduler(
        app, "dashboard-refresher", lambda: refresh_forever(app[SESSIONMAKER], config, app[CLOCK])
    ):
        yield
