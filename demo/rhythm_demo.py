"""Demo reorder rhythm for ``laoke demo``: every buyer's rhythm from the seeded year of orders,
and a standing 补货提醒 campaign, so the buyer book's 补货节奏, the dashboard's 该补货了 and the
campaign list are alive.

Listed in ``demo.demo.DEMO_SEEDERS`` after the orders and the history. Idempotent: the rhythm
is recomputed (it writes only what changed) and the campaign is created once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from insights.rhythm_store import refresh_rhythm
from scheduler.campaigns import create_campaign, schedule_campaign
from scheduler.models import REORDER, Campaign

REORDER_NAME = "补货提醒（按拿货节奏）"


async def seed_demo_rhythm(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """Each buyer's rhythm as of now, and the standing reorder campaign (scheduled)."""
    async with sessions() as session, session.begin():
        await refresh_rhythm(session, clock.now(), config)
        found = await session.scalar(
            select(Campaign.id).where(Campaign.kind == REORDER, Campaign.name == REORDER_NAME)
        )
        if found is None:
            spec = {"kind": REORDER, "name": REORDER_NAME, "send_time": "10:00"}
            campaign = await create_campaign(session, spec, clock, tz=config.campaigns.timezone)
            await schedule_campaign(session, campaign.id, clock, tz=config.campaigns.timezone)
