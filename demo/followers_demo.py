"""The demo's followers on the platform, and its day-one follower import.

A real account that installs Laoke already has followers, most of whom never wrote; the demo
shows that day: at start it puts every buyer the demo's book has as following on the
simulated platform's follower list (with their follow time and QR scene), adds
``NEVER_WROTE`` followers who never wrote (followed over the three years before, with the
platform's mix of scenes and a few WeChat tags), and starts the follower sync as an admin
would after installing. The buyer book then shows them (同步导入), 粉丝增长 dates them, and
设置 → 公众号连接 shows the sync. Deterministic: a restart makes the same followers, and the
sync changes nothing the second time.

This module adds nothing to the database itself: the sync does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import CLOCK, SESSIONMAKER
from bot.models import Buyer
from demo.simulator.fake_followers import Follower
from demo.simulator.fake_http import FAKE
from followers.jobs import SyncRunning
from followers.runner import FOLLOWER_SYNCS

NEVER_WROTE = 600
PREFIX = "oFanPre"  # not oDemo…: the demo's own buyers are counted by that prefix
TAGS = ("展会老客", "样品客户", "星标供应商")


def _ts(when: datetime) -> int:
    return int(when.timestamp())


async def demo_followers(app: web.Application) -> AsyncIterator[None]:
    """DEMO_STARTERS entry: the platform's follower list, then the day-one sync."""
    fake, now = app[FAKE], app[CLOCK].now()
    fans = fake.followers
    async with app[SESSIONMAKER]() as session:
        rows = await session.execute(
            select(Buyer.openid, Buyer.subscribed_at, Buyer.first_seen_at, Buyer.qr_scene).where(
                Buyer.subscribed.is_(True)
            )
        )
        known = [
            Follower(
                openid,
                _ts(subscribed_at or first_seen_at),
                "ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_SEARCH",
                qr_scene_str=scene or "",
            )
            for openid, subscribed_at, first_seen_at, scene in rows
        ]
    fans.add(known)
    fans.seed(
        NEVER_WROTE,
        start=now - timedelta(days=3 * 365),
        end=now - timedelta(days=30),
        tags=TAGS,
        prefix=PREFIX,
    )
    try:
        await app[FOLLOWER_SYNCS].start(trigger="demo", actor="演示：安装后首次同步")
    except SyncRunning:
        pass
    yield
