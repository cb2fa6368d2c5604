"""A broadcast fanned out to buyers in their 48-hour window, with the scheduler and a sender
driven by hand on the test's clock (tests/ops: backups under load, the delivery gauges)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import insert

from bot.database import create_engine, sessionmaker
from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from bot.models import Buyer
from bot.wechat.client import WeChatAPI
from scheduler.campaigns import create_campaign, schedule_campaign
from scheduler.loop import CampaignScheduler
from scheduler.sender import Sender

BUYERS = 600


async def seed_campaign(config, clock, fake) -> tuple[Sender, CampaignScheduler, list]:
    """Buyers in their 48-hour window and a broadcast to all of them, fanned out."""
    engine = create_engine(config.database)
    sm = sessionmaker(engine)
    now = clock.now()
    async with sm() as session, session.begin():
        await session.execute(
            insert(Buyer),
            [
                {"openid": f"oCampaign{i}", "subscribed": True, "opted_out": False, "tags": [],
                 "channels": [], "interests": [], "first_seen_at": now - timedelta(days=40),
                 "last_interaction_at": now - timedelta(hours=1), "orders_12m": 0,
                 "spend_12m": 0.0, "orders_total": 0}
                for i in range(BUYERS)
            ],
        )  # fmt: skip
        spec = {"kind": "broadcast", "name": "上新", "send_at": now.isoformat(), "text": "上新啦"}
        campaign = await create_campaign(session, spec, clock)
        await schedule_campaign(session, campaign.id, clock)
    for i in range(BUYERS):
        fake.open_window(f"oCampaign{i}", now - timedelta(hours=1))
    http = aiohttp.ClientSession()
    metrics = Metrics()
    services = Services(
        config, Renderer(), WeChatAPI(config.wechat, sm, clock, http, metrics), clock, metrics
    )
    scheduler = CampaignScheduler(sm, services, holder="scheduler:test")
    assert await scheduler.tick()
    return Sender(sm, services, worker_id="sender:test"), scheduler, [engine, http]
