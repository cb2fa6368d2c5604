"""A campaign engine on a test database and the fake WeChat, driven by hand with a FakeClock.

Tests call ``tick()`` (one scheduler pass) and ``drain()`` (sender batches until nothing is
due) instead of waiting for APScheduler, and read the outcome back from the database and the
simulator's log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bot.clock import FakeClock
from bot.config import Config
from bot.database import create_engine, sessionmaker
from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from bot.models import Buyer
from bot.wechat.client import WeChatAPI
from scheduler.campaigns import create_campaign, schedule_campaign
from scheduler.loop import CampaignScheduler
from scheduler.models import Campaign, CampaignStep, Delivery
from scheduler.sender import Sender

FAST = {"rate_limit_per_s": 100000.0, "retry_backoff_s": 60.0, "cap_per_day": 0, "cap_per_week": 0}


class Harness:
    def __init__(self, config: Config, clock: FakeClock, fake: Any) -> None:
        self.config, self.clock, self.fake = config, clock, fake

    async def __aenter__(self) -> Harness:
        self.engine = create_engine(self.config.database)
        self.sm = sessionmaker(self.engine)
        self.http = aiohttp.ClientSession()
        metrics = Metrics()
        api = WeChatAPI(self.config.wechat, self.sm, self.clock, self.http, metrics)
        self.services = Services(self.config, Renderer(), api, self.clock, metrics)
        self.scheduler = CampaignScheduler(self.sm, self.services, holder="scheduler:test")
        self.sender = Sender(self.sm, self.services, worker_id="sender:test")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.http.close()
        await self.engine.dispose()

    async def add_buyers(
        self,
        n: int,
        *,
        prefix: str = "o",
        interacted_ago: timedelta | None = timedelta(hours=1),
        **fields: Any,
    ) -> list[str]:
        """n subscribed buyers; `interacted_ago` None means they never wrote (no window)."""
        now = self.clock.now()
        last = None if interacted_ago is None else now - interacted_ago
        openids = [f"{prefix}{i}" for i in range(n)]
        rows = [
            {
                "openid": o,
                "subscribed": True,
                "opted_out": False,
                "tags": [],
                "channels": [],
                "interests": [],
                "first_seen_at": now - timedelta(days=400),
                "last_interaction_at": last,
                "orders_12m": 0,
                "spend_12m": 0.0,
                "orders_total": 0,
                **fields,
            }
            for o in openids
        ]
        async with self.sm() as session, session.begin():
            await session.execute(insert(Buyer), rows)
        if last is not None:
            for o in openids:
                self.fake.open_window(o, last)
        return openids

    async def campaign(self, spec: dict[str, Any], *, schedule: bool = True) -> int:
        async with self.sm() as session, session.begin():
            campaign = await create_campaign(session, spec, self.clock)
            if schedule:
                await schedule_campaign(session, campaign.id, self.clock)
            return campaign.id

    async def tick(self) -> bool:
        return await self.scheduler.tick()

    async def drain(self, max_batches: int = 1000) -> int:
        handled = 0
        for _ in range(max_batches):
            n = await self.sender.run_once()
            if not n:
                break
            handled += n
        return handled

    async def run(self, campaign_id: int) -> None:
        """Tick and send until the clock's due work is done."""
        await self.tick()
        await self.drain()
        await self.tick()

    async def statuses(self, campaign_id: int) -> Counter[str]:
        async with self.sm() as session:
            rows = await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.campaign_id == campaign_id)
                .group_by(Delivery.status)
            )
            return Counter(dict(rows.all()))

    async def reasons(self, campaign_id: int) -> Counter[tuple[str, str | None]]:
        async with self.sm() as session:
            rows = await session.execute(
                select(Delivery.status, Delivery.reason, func.count())
                .where(Delivery.campaign_id == campaign_id)
                .group_by(Delivery.status, Delivery.reason)
            )
            return Counter({(s, r): n for s, r, n in rows.all()})

    async def get(self, campaign_id: int) -> Campaign:
        async with self.sm() as session:
            return await session.get(Campaign, campaign_id)

    async def steps(self, campaign_id: int) -> list[CampaignStep]:
        async with self.sm() as session:
            return list(
                await session.scalars(
                    select(CampaignStep)
                    .where(CampaignStep.campaign_id == campaign_id)
                    .order_by(CampaignStep.seq)
                )
            )

    def sent_log(self) -> list[dict[str, Any]]:
        return self.fake.messages()

    async def act(self, campaign_id: int, move: Callable[..., Awaitable[Any]]) -> None:
        """An operator's move (``pause_campaign``, ``resume_campaign`` …) in its own transaction."""
        async with self.sm() as session, session.begin():
            await move(session, campaign_id, self.clock)


def iso(clock: FakeClock, **delta: Any) -> str:
    """The clock's time plus ``delta``, as a campaign spec takes it."""
    return (clock.now() + timedelta(**delta)).isoformat()


def broadcast(clock: FakeClock, **delta: Any) -> dict[str, Any]:
    """A one-message broadcast to everyone, due at the clock's time plus ``delta``."""
    return {"kind": "broadcast", "name": "b", "send_at": iso(clock, **delta), "text": "t"}


def assert_no_duplicates(log: list[dict[str, Any]]) -> None:
    """The simulator received no message twice for the same buyer and content."""
    seen = Counter((m["openid"], m.get("content") or str(m.get("data"))) for m in log)
    dupes = {k: n for k, n in seen.items() if n > 1}
    assert not dupes, f"duplicate sends: {dupes}"


def config_for(make_config: Any, fake: Any, db_url: str | None = None, **campaigns: Any) -> Config:
    sections: dict[str, Any] = {
        "wechat": {**fake.wechat_config(), "busy_retries": 0, "busy_backoff_s": 0.0},
        "campaigns": {**FAST, **campaigns},
    }
    if db_url:
        sections["database"] = {"url": db_url}
    return make_config(**sections)
