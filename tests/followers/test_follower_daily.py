"""The daily follower sync and its resumption run in the scheduler's leader only, at the
configured local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from follower_world import counts, seed, sync_config

from bot.appkeys import SERVICES, SESSIONMAKER
from bot.config import ConfigError, parse_config
from followers.jobs import latest_job
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app
from scheduler.engine import follower_jobs
from scheduler.loop import CampaignScheduler


async def test_the_daily_sync_runs_at_sync_at_in_the_scheduler_leader_only(
    aiohttp_client, make_config, fake_wechat, clock, sqlite_url
):
    config = sync_config(make_config, fake_wechat, sqlite_url, followers={"sync_at": "04:15"})
    api = await aiohttp_client(create_app(config, clock=clock))
    app = api.app
    jobs = {job.name: job for job in follower_jobs(app)}
    daily = jobs["daily follower sync"]
    # 04:15 in [campaigns] timezone (Beijing): 20:15 UTC the day before.
    after = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
    assert daily.trigger.get_next_fire_time(None, after) == datetime(
        2026, 5, 18, 20, 15, tzinfo=UTC
    )
    seed(fake_wechat, 40, clock.now())
    maker, services = app[SESSIONMAKER], app[SERVICES]
    leader = CampaignScheduler(maker, services, holder="scheduler:a", leader_jobs=[daily])
    other = CampaignScheduler(maker, services, holder="scheduler:b", leader_jobs=[daily])
    assert await leader.tick() and not await other.tick()
    await other.run_leader_job(daily)  # not the leader: nothing starts
    assert not app[FOLLOWER_SYNCS].tasks
    await leader.run_leader_job(daily)
    await app[FOLLOWER_SYNCS].wait()
    async with maker() as session:
        job = await latest_job(session)
    assert (job.status, job.trigger, job.actor, job.created) == (
        "done",
        "daily",
        "每日自动同步",
        40,
    )
    assert (await counts(maker))["imported"] == 40
    await leader.stop()


async def test_without_the_daily_run_only_resumption_is_scheduled(
    aiohttp_client, make_config, fake_wechat, clock, sqlite_url
):
    config = sync_config(make_config, fake_wechat, sqlite_url, followers={"enabled": False})
    api = await aiohttp_client(create_app(config, clock=clock))
    assert [job.name for job in follower_jobs(api.app)] == ["resume follower sync"]


def test_a_bad_sync_time_stops_the_process_naming_the_key():
    wechat = {"appid": "wx1", "secret": "s", "token": "t"}
    ok = parse_config({"wechat": wechat, "followers": {"sync_at": "4:05"}}, env={})
    assert (ok.followers.sync_at.hour, ok.followers.sync_at.minute) == (4, 5)
    for bad in ("25:00", "noon", 330):
        with pytest.raises(ConfigError, match="followers.sync_at"):
            parse_config({"wechat": wechat, "followers": {"sync_at": bad}}, env={})
    with pytest.raises(ConfigError, match="followers.user_get_daily_quota"):
        parse_config({"wechat": wechat, "followers": {"user_get_daily_quota": 0}}, env={})
