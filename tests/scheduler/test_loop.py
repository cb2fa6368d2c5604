"""The scheduler: due steps after a restart, one leader at a time, idempotent fan-out."""

from __future__ import annotations

import pytest
from campaign_harness import Harness, broadcast, config_for
from sqlalchemy import func, select

from scheduler.campaigns import pause_campaign, resume_campaign
from scheduler.loop import CampaignScheduler, fan_out
from scheduler.models import Campaign, CampaignStep, Delivery


@pytest.fixture
async def h(make_config, fake_wechat, clock):
    async with Harness(
        config_for(make_config, fake_wechat, missed_grace_s=600), clock, fake_wechat
    ) as harness:
        yield harness


async def test_step_due_while_down_runs_at_start_within_the_grace_period(h, clock):
    await h.add_buyers(3)
    cid = await h.campaign(broadcast(clock, hours=1))
    clock.advance(hours=1, minutes=9)  # the process was down; it restarts 9 minutes late
    restarted = CampaignScheduler(h.sm, h.services, holder="scheduler:restarted")
    assert await restarted.tick()
    await h.drain()
    assert (await h.statuses(cid)) == {"sent": 3}


async def test_step_due_long_before_the_restart_is_marked_missed_not_sent_late(h, clock):
    await h.add_buyers(3)
    cid = await h.campaign(broadcast(clock, hours=1))
    clock.advance(hours=2)
    await h.run(cid)
    [step] = await h.steps(cid)
    assert step.status == "missed" and "late" in step.note
    assert h.sent_log() == [] and (await h.statuses(cid)) == {}
    assert (await h.get(cid)).status == "done"


async def test_only_one_scheduler_acts_and_another_takes_over_when_it_stops_renewing(h, clock):
    await h.add_buyers(2)
    first = CampaignScheduler(h.sm, h.services, holder="scheduler:a")
    second = CampaignScheduler(h.sm, h.services, holder="scheduler:b")
    assert await first.tick()
    cid = await h.campaign(broadcast(clock))
    assert not await second.tick()  # a holds the lease: b does nothing
    assert (await h.statuses(cid)) == {}
    assert await first.tick()
    assert (await h.statuses(cid)) == {"pending": 2}
    clock.advance(seconds=31)  # a died without releasing: its lease expires
    assert await second.tick()
    assert not await first.tick()  # a came back: b keeps the lease
    await second.stop()  # b releases on shutdown, a takes over at once
    assert await first.tick()


async def test_fan_out_twice_writes_each_recipient_once(h, clock):
    await h.add_buyers(5)
    cid = await h.campaign(broadcast(clock))
    async with h.sm() as session, session.begin():
        campaign = await session.get(Campaign, cid)
        [step] = list(
            await session.scalars(select(CampaignStep).where(CampaignStep.campaign_id == cid))
        )
        assert await fan_out(session, campaign, step, clock.now()) == 5
        assert await fan_out(session, campaign, step, clock.now()) == 5
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 5


async def test_a_step_due_while_paused_runs_on_resume(h, clock):
    await h.add_buyers(2)
    cid = await h.campaign(broadcast(clock, hours=1))
    await h.act(cid, pause_campaign)
    clock.advance(hours=3)
    await h.run(cid)
    assert h.sent_log() == []
    await h.act(cid, resume_campaign)
    await h.run(cid)
    assert (await h.statuses(cid)) == {"sent": 2}


async def test_apscheduler_drives_ticks_and_stop_releases_the_lease(h, clock):
    import asyncio

    scheduler = CampaignScheduler(h.sm, h.services, holder="scheduler:aps", tick_s=0.05)
    scheduler.start()
    try:
        for _ in range(100):  # APScheduler runs the first tick immediately
            if scheduler.is_leader:
                break
            await asyncio.sleep(0.02)
        assert scheduler.is_leader
    finally:
        await scheduler.stop()
    other = CampaignScheduler(h.sm, h.services, holder="scheduler:other")
    assert await other.tick()


async def test_idle_ticks_stay_out_of_the_info_log_and_ticks_that_act_show(h, clock, caplog):
    import asyncio
    import logging

    caplog.set_level(logging.INFO)
    scheduler = CampaignScheduler(h.sm, h.services, holder="scheduler:aps", tick_s=0.02)
    ticks = 0
    tick = scheduler.tick

    async def counted_tick() -> bool:
        nonlocal ticks
        ticks += 1
        return await tick()

    scheduler.tick = counted_tick
    scheduler.start()
    try:
        for _ in range(200):  # let APScheduler run a few idle ticks
            if ticks >= 3:
                break
            await asyncio.sleep(0.02)
        assert ticks >= 3
    finally:
        await scheduler.stop()
    assert not [
        r
        for r in caplog.records
        if r.levelno == logging.INFO
        and (r.name == "apscheduler.executors.default" or r.name == "scheduler.loop")
    ]
    await h.add_buyers(2)
    await h.campaign(broadcast(clock))
    assert await CampaignScheduler(h.sm, h.services, holder="scheduler:b").tick()
    [acted] = [r for r in caplog.records if r.getMessage().startswith("scheduler tick")]
    assert acted.levelno == logging.INFO and "1 due steps handled" in acted.getMessage()


async def test_serve_runs_the_scheduler_and_a_sender_in_the_background(
    aiohttp_client, make_config, fake_wechat, clock
):
    import asyncio

    from bot.appkeys import SESSIONMAKER
    from laoke.app import create_app
    from scheduler.campaigns import create_campaign, schedule_campaign

    config = config_for(make_config, fake_wechat)
    config = config.model_copy(
        update={
            "server": config.server.model_copy(update={"run_scheduler": True, "run_senders": True})
        }
    )
    client = await aiohttp_client(create_app(config, clock=clock))
    async with Harness(config, clock, fake_wechat) as h:
        await h.add_buyers(3)
    sm = client.app[SESSIONMAKER]
    async with sm() as session, session.begin():
        campaign = await create_campaign(
            session,
            {"kind": "broadcast", "name": "b", "send_at": clock.now().isoformat(), "text": "t"},
            clock,
        )
        await schedule_campaign(session, campaign.id, clock)
    for _ in range(200):  # the background tasks run on their own; give them up to 10 s
        if len(fake_wechat.messages()) == 3:
            break
        await asyncio.sleep(0.05)
    assert sorted(m["openid"] for m in fake_wechat.messages()) == ["o0", "o1", "o2"]


async def test_stop_lets_a_pass_in_progress_finish_then_hands_the_lease_over(h, clock, caplog):
    import asyncio
    import logging

    await h.add_buyers(3)
    cid = await h.campaign(broadcast(clock))
    scheduler = CampaignScheduler(h.sm, h.services, holder="scheduler:stopping", tick_s=60)
    started, finished = asyncio.Event(), []
    real_tick = scheduler.tick

    async def slow_tick() -> bool:  # a pass that is still fanning out when shutdown begins
        started.set()
        await asyncio.sleep(0.2)
        finished.append(await real_tick())
        return finished[-1]

    scheduler.tick = slow_tick
    caplog.set_level(logging.INFO)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop()
    assert finished == [True]  # the pass ran to its end instead of being cancelled
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [step] = await h.steps(cid)
    assert step.status == "fanned_out"
    other = CampaignScheduler(h.sm, h.services, holder="scheduler:next")
    assert await other.tick()  # the lease was given back after the pass, not during it


async def test_a_large_fan_out_refreshes_the_postgresql_statistics(
    make_config, fake_wechat, clock, own_pg, monkeypatch
):
    from sqlalchemy import text

    import scheduler.loop

    monkeypatch.setattr(scheduler.loop, "ANALYZE_AFTER", 3)  # "large", for a test
    async with Harness(config_for(make_config, fake_wechat, own_pg.url), clock, fake_wechat) as h:

        async def analyzed():
            async with h.sm() as session:
                return await session.scalar(
                    text(
                        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'deliveries'"
                    )
                )

        assert await analyzed() is None  # a fresh database
        await h.add_buyers(3)
        await h.campaign(broadcast(clock))
        await h.tick()
        assert await analyzed() is not None  # the senders' queries are planned on real figures
