"""A follower sync under test: the WeChat simulator with followers, and the product's services
on the test's database and clock (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.database import create_engine, sessionmaker
from bot.inbound.events import FOLLOW, UNFOLLOW, BuyerEvent
from bot.models import Buyer
from bot.services import open_services
from demo.simulator.fake_followers import Follower

AUTH = {"Authorization": "Bearer op-token"}


def sync_config(make_config, fake_wechat, db_url, **sections):
    """A config on `db_url` whose WeChat is the simulator (busy retries without waiting)."""
    wechat = fake_wechat.wechat_config() | {"busy_backoff_s": 0.0}
    return make_config(
        database={"url": db_url}, wechat=wechat, api={"token": "op-token"}, **sections
    )


@contextlib.asynccontextmanager
async def services_for(config, clock) -> AsyncIterator[tuple]:
    """(sessionmaker, services) as `laoke followers sync` opens them."""
    engine = create_engine(config.database)
    try:
        maker = sessionmaker(engine)
        async with open_services(config, maker, clock=clock) as services:
            yield maker, services
    finally:
        await engine.dispose()


def seed(fake_wechat, count: int, now: datetime, **kw) -> list[str]:
    """`count` synthetic followers who followed over the three years before `now`."""
    return fake_wechat.state.followers.seed(
        count, start=now - timedelta(days=1000), end=now - timedelta(days=1), **kw
    )


def follower(openid: str, when: datetime, **fields) -> Follower:
    return Follower(openid, int(when.timestamp()), **fields)


async def buyer(maker, openid: str) -> Buyer | None:
    async with maker() as session:
        return await session.scalar(select(Buyer).where(Buyer.openid == openid))


async def counts(maker) -> dict[str, int]:
    """Buyers (all, subscribed, imported) and follow/unfollow events (all, imported)."""
    async with maker() as session:
        b = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(Buyer.subscribed.is_(True)),
                    func.count().filter(Buyer.imported_at.is_not(None)),
                ).select_from(Buyer)
            )
        ).one()
        e = (
            await session.execute(
                select(
                    func.count().filter(BuyerEvent.kind == FOLLOW),
                    func.count().filter(BuyerEvent.kind == UNFOLLOW),
                    func.count().filter(BuyerEvent.imported.is_(True)),
                ).select_from(BuyerEvent)
            )
        ).one()
    return {
        "buyers": b[0], "subscribed": b[1], "imported": b[2],
        "follows": e[0], "unfollows": e[1], "imported_events": e[2],
    }  # fmt: skip
