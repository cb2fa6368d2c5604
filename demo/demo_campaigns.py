"""Demo campaigns for ``laoke demo``: a livestream and a recall that arrive within minutes.

Listed in ``demo.demo.DEMO_SEEDERS``. Each start of the demo schedules them again unless a
previous run's are still under way, so the operator can watch the announcement, a reminder,
the start (RSVP with 预约 in the chat simulator) and two recall waves arrive in the chat
simulator. Not used outside the demo.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from scheduler.campaigns import create_campaign, schedule_campaign
from scheduler.models import DRAFT, PAUSED, RUNNING, SCHEDULED, Campaign

LIVESTREAM_NAME = "演示：春季新款直播"
RECALL_NAME = "演示：老客回归周"


async def seed_demo_campaigns(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """Schedule the demo livestream (starts in 5 min) and recall (waves in 1 and 4 min)."""
    now = clock.now()
    specs = [
        {
            "kind": "livestream",
            "name": LIVESTREAM_NAME,
            "title": "春季新款直播：女装/童装源头好货",
            "start_at": (now + timedelta(minutes=5)).isoformat(),
            "link": f"{config.server.public_url}chat/",
            # Announce now, remind 2 minutes before, and at the start.
            "offsets_s": [120, 0],
        },
        {
            "kind": "recall",
            "name": RECALL_NAME,
            "title": "老客回归周",
            "all_day": True,
            "window_start": now.isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat(),
            "waves": [
                (now + timedelta(minutes=1)).isoformat(),
                (now + timedelta(minutes=4)).isoformat(),
            ],
            "dormant_days": 3,
        },
    ]
    async with sessions() as session, session.begin():
        for spec in specs:
            active = await session.scalar(
                select(Campaign.id).where(
                    Campaign.name == spec["name"],
                    Campaign.status.in_((DRAFT, SCHEDULED, RUNNING, PAUSED)),
                )
            )
            if active is None:
                campaign = await create_campaign(session, spec, clock, tz=config.campaigns.timezone)
                await schedule_campaign(session, campaign.id, clock)
