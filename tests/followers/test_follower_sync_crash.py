"""A follower sync cut off anywhere — its task cancelled mid-listing or mid-details, its CLI
process killed with SIGKILL — is resumed from its checkpoint: nobody is listed, created or
dated twice, the counts add up, and nobody is marked as having left from a partial listing."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import pytest
from follower_world import buyer, counts, seed, services_for, sync_config
from laoke_process import start_laoke
from sqlalchemy import select

from bot.models import Buyer
from followers.jobs import get_job, latest_job
from followers.models import DONE, INTERRUPTED, RUNNING
from followers.runner import sync_now


def cut_off_after(checkpoints: int, phase: str):
    """A progress hook that cancels the sync's task at its `checkpoints`-th `phase` checkpoint
    (the listing's last checkpoint is the first of the details phase)."""
    seen = [0]

    def hook(job) -> None:
        if job.phase == phase:
            seen[0] += 1
            if seen[0] == checkpoints:
                asyncio.current_task().cancel()

    return hook


async def test_a_sync_cut_off_while_listing_resumes_from_its_cursor(
    db_url, make_config, fake_wechat, clock
):
    seed(fake_wechat, 45, clock.now())
    fake_wechat.state.followers.page_size = 10
    config = sync_config(make_config, fake_wechat, db_url)
    async with services_for(config, clock) as (maker, services):
        async with maker.begin() as session:  # follows locally, not on the platform any more
            session.add(Buyer(openid="oGone", subscribed=True, tags=[], channels=[],
                              interests=[], first_seen_at=clock.now() - timedelta(days=30)))  # fmt: skip
        clock.advance(minutes=1)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(
                sync_now(maker, services, trigger="cli", actor="测试",
                         progress=cut_off_after(2, "listing"))
            )  # fmt: skip
        async with maker() as session:
            cut = await latest_job(session)
        assert (cut.status, cut.phase, cut.listed, cut.calls_list) == (
            INTERRUPTED,
            "listing",
            20,
            2,
        )
        assert cut.next_openid == fake_wechat.state.followers.order[19]
        # A partial listing marks nobody as gone.
        assert (await buyer(maker, "oGone")).subscribed
        job, resumed = await sync_now(maker, services, trigger="cli", actor="测试")
        assert (job.id, resumed, job.status) == (cut.id, True, DONE)
        # Pages 3, 4, 5 and the empty one: no page of the first run was fetched again.
        assert (job.listed, job.calls_list, job.created, job.left_count) == (45, 6, 45, 1)
        assert not (await buyer(maker, "oGone")).subscribed


async def test_a_sync_cut_off_while_detailing_resumes_without_duplicates(
    db_url, make_config, fake_wechat, clock
):
    seed(fake_wechat, 1000, clock.now())
    config = sync_config(make_config, fake_wechat, db_url)
    async with services_for(config, clock) as (maker, services):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(
                sync_now(maker, services, trigger="cli", actor="测试",
                         progress=cut_off_after(2, "detailing"))
            )  # fmt: skip
        async with maker() as session:
            cut = await latest_job(session)
        # Cut off after its first batch of 100 was stored; four calls were made (in flight
        # together), and are counted.
        assert (cut.status, cut.phase, cut.detailed, cut.created) == (
            INTERRUPTED, "detailing", 100, 100,
        )  # fmt: skip
        assert cut.calls_detail == 4
        assert (await counts(maker))["buyers"] == 100
        job, resumed = await sync_now(maker, services, trigger="cli", actor="测试")
        assert (job.id, resumed, job.status) == (cut.id, True, DONE)
        assert (job.listed, job.detailed, job.created, job.updated) == (1000, 1000, 1000, 0)
        # The stored batch was not asked for again; the three in flight at the cut were.
        assert job.calls_detail == 4 + 9
        assert await counts(maker) == {
            "buyers": 1000, "subscribed": 1000, "imported": 1000,
            "follows": 1000, "unfollows": 0, "imported_events": 1000,
        }  # fmt: skip


async def test_a_killed_cli_sync_is_resumed_by_the_next_one(
    make_config, fake_wechat, clock, sqlite_url, tmp_path
):
    seed(fake_wechat, 6000, clock.now())
    fake_wechat.state.followers.page_size = 1000
    fake_wechat.inject(latency_ms=100)
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[wechat]\nappid = "{fake_wechat.state.appid}"\nsecret = "{fake_wechat.state.secret}"\n'
        f'token = "t"\napi_base_url = "{fake_wechat.url}"\n[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    config = sync_config(make_config, fake_wechat, sqlite_url)
    log = tmp_path / "first.log"
    first = await start_laoke("followers", "sync", "-c", str(config_path), log=log)
    try:
        async with services_for(config, clock) as (maker, _):
            for _ in range(3000):  # until its first details are committed (at most a minute)
                async with maker() as session:
                    job = await latest_job(session)
                if (job is not None and job.detailed) or first.returncode is not None:
                    break
                await asyncio.sleep(0.02)
        # WeChat now answers slowly (within the client's timeout): the process is mid-sync
        # when it is killed, however late this test saw its first details.
        fake_wechat.inject(latency_ms=3000)
        assert first.returncode is None, log.read_text(encoding="utf-8")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        await first.wait()
    async with services_for(config, clock) as (maker, _):
        async with maker() as session:
            killed = await latest_job(session)
        assert (killed.status, killed.phase) == (RUNNING, "detailing"), log.read_text()
        assert 0 < killed.detailed < 6000
    fake_wechat.inject(latency_ms=0)
    second_log = tmp_path / "second.log"
    second = await start_laoke("followers", "sync", "-c", str(config_path), log=second_log)
    assert await second.wait() == 0, second_log.read_text()
    # Resumed at once: the dead process was on this machine, no need to wait for its lease.
    assert f"resumed follower sync {killed.id}" in second_log.read_text(encoding="utf-8")
    async with services_for(config, clock) as (maker, _):
        async with maker() as session:
            job = await get_job(session, killed.id)
            openids = list(await session.scalars(select(Buyer.openid)))
        assert (job.status, job.listed, job.detailed, job.created) == (DONE, 6000, 6000, 6000)
        assert len(openids) == len(set(openids)) == 6000
        got = await counts(maker)
        assert (got["follows"], got["imported_events"]) == (6000, 6000)
