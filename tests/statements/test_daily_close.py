"""The daily close runs in the scheduler's leader at ``[statements] close_at`` (Beijing time)
and closes the period that is due; it can be turned off; a bad time names the key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from statement_world import add_buyer, add_order

from bot.appkeys import SERVICES, SESSIONMAKER
from bot.config import ConfigError, parse_config
from laoke.app import create_app
from scheduler.engine import statement_jobs
from scheduler.loop import CampaignScheduler
from statements.models import StatementPeriod


async def test_the_leader_closes_the_due_period_at_close_at(aiohttp_client, make_config, clock):
    clock.set(datetime(2026, 12, 4, 21, 0, tzinfo=UTC))  # 05:00 on 5 Dec in Beijing
    config = make_config(statements={"close_at": "04:45", "close_after_days": 3})
    app = (await aiohttp_client(create_app(config, clock=clock))).app
    [job] = statement_jobs(app)
    assert job.trigger.get_next_fire_time(None, datetime(2026, 12, 4, 0, tzinfo=UTC)) == datetime(
        2026, 12, 4, 20, 45, tzinfo=UTC
    )
    maker, services = app[SESSIONMAKER], app[SERVICES]
    bid = await add_buyer(maker, "oA", subscribed=False)
    await add_order(maker, "N1", bid, 10_000, datetime(2026, 11, 10, tzinfo=UTC))
    leader = CampaignScheduler(maker, services, holder="scheduler:a", leader_jobs=[job])
    other = CampaignScheduler(maker, services, holder="scheduler:b", leader_jobs=[job])
    assert await leader.tick() and not await other.tick()
    await other.run_leader_job(job)
    async with maker() as session:
        assert await session.scalar(select(StatementPeriod.key)) is None
    await leader.run_leader_job(job)
    async with maker() as session:
        assert list(await session.scalars(select(StatementPeriod.key))) == ["2026-11"]
    await leader.stop()


async def test_the_daily_close_can_be_turned_off(aiohttp_client, make_config, clock):
    config = make_config(statements={"close_enabled": False})
    app = (await aiohttp_client(create_app(config, clock=clock))).app
    assert statement_jobs(app) == []


def test_a_bad_close_time_or_period_stops_the_process_naming_the_key():
    wechat = {"appid": "wx1", "secret": "s", "token": "t"}
    for key, bad in (("close_at", "25:00"), ("period", "week"), ("link_days", 0)):
        with pytest.raises(ConfigError, match=f"statements.{key}"):
            parse_config({"wechat": wechat, "statements": {key: bad}}, env={})
