"""The follower sync against the WeChat simulator: who becomes a buyer, what is kept, who is
marked as having left, and what a second run changes (nothing). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from follower_world import buyer, counts, follower, seed, services_for, sync_config
from sqlalchemy import select

from bot.inbound.events import FOLLOW, UNFOLLOW, BuyerEvent
from bot.models import Buyer
from followers.jobs import get_job
from followers.models import DONE, FAILED, PAUSED
from followers.runner import FollowerSyncs, sync_now


async def run_sync(config, clock, **kw):
    async with services_for(config, clock) as (maker, services):
        job, resumed = await sync_now(maker, services, trigger="cli", actor="测试", **kw)
    return job, resumed


async def test_followers_who_never_wrote_become_buyers_outside_the_window(
    db_url, make_config, fake_wechat, clock
):
    openids = seed(fake_wechat, 250, clock.now(), tags=["老客户"])
    fake_wechat.state.followers.add(
        [follower("oQrFan", clock.now() - timedelta(days=400), scene="ADD_SCENE_QR_CODE",
                  qr_scene_str="expo_2025", unionid="uQr", remark="义乌张总")]
    )  # fmt: skip
    config = sync_config(make_config, fake_wechat, db_url)
    job, resumed = await run_sync(config, clock)
    assert (job.status, resumed) == (DONE, False)
    assert (job.total, job.listed, job.detailed, job.created) == (251, 251, 251, 251)
    assert (job.updated, job.left_count, job.errors) == (0, 0, 0)
    assert (job.calls_list, job.calls_detail) == (2, 3)  # one page, then the empty one
    async with services_for(config, clock) as (maker, _):
        got = await counts(maker)
        assert got == {
            "buyers": 251, "subscribed": 251, "imported": 251,
            "follows": 251, "unfollows": 0, "imported_events": 251,
        }  # fmt: skip
        qr = await buyer(maker, "oQrFan")
        assert qr.subscribed and qr.last_interaction_at is None  # never wrote: not in window
        assert qr.subscribed_at == qr.first_seen_at == clock.now() - timedelta(days=400)
        assert (qr.qr_scene, qr.subscribe_scene) == ("expo_2025", "ADD_SCENE_QR_CODE")
        assert (qr.unionid, qr.wechat_remark) == ("uQr", "义乌张总")
        tagged = await buyer(maker, openids[1])
        tag_ids = fake_wechat.state.followers.known[openids[1]].tags
        assert tagged.wechat_tag_ids == tag_ids
        async with maker() as session:
            event = await session.scalar(select(BuyerEvent).where(BuyerEvent.buyer_id == qr.id))
        assert (event.kind, event.at, event.imported) == (FOLLOW, qr.subscribed_at, True)


async def test_known_buyers_keep_what_the_bot_learnt(db_url, make_config, fake_wechat, clock):
    config = sync_config(make_config, fake_wechat, db_url)
    wrote = clock.now() - timedelta(hours=3)
    async with services_for(config, clock) as (maker, _):
        async with maker.begin() as session:
            session.add(
                Buyer(
                    openid="oKnown", subscribed=True, subscribed_at=None,
                    first_seen_at=wrote - timedelta(days=30), last_interaction_at=wrote,
                    display_name="王总", company="义乌小铺", tags=["大客户"], channels=[],
                    interests=["女装"], opted_out=True, qr_scene="fair",
                )
            )  # fmt: skip
    followed = clock.now() - timedelta(days=700)
    fake_wechat.state.followers.add(
        [follower("oKnown", followed, scene="ADD_SCENE_QR_CODE", qr_scene_str="other",
                  unionid="uK", remark="王总（老客）")]
    )  # fmt: skip
    clock.advance(minutes=5)
    job, _ = await run_sync(config, clock)
    assert (job.created, job.updated) == (0, 1)
    async with services_for(config, clock) as (maker, _):
        known = await buyer(maker, "oKnown")
        # The card, the last interaction, the opt-out, operator tags, the first scene: kept.
        assert (known.display_name, known.company, known.tags) == ("王总", "义乌小铺", ["大客户"])
        assert known.last_interaction_at == wrote and known.opted_out
        assert known.qr_scene == "fair" and known.imported_at is None
        # What only the platform knows: filled in.
        assert (known.unionid, known.wechat_remark) == ("uK", "王总（老客）")
        assert known.subscribed_at == followed  # it was unknown
        # Their follow (before Laoke's history) is dated for the dashboard, once.
        async with maker() as session:
            kinds = list(
                await session.scalars(
                    select(BuyerEvent.kind).where(BuyerEvent.buyer_id == known.id)
                )
            )
        assert kinds == [FOLLOW]


async def test_a_second_sync_changes_nothing(db_url, make_config, fake_wechat, clock):
    seed(fake_wechat, 120, clock.now())
    config = sync_config(make_config, fake_wechat, db_url)
    first, _ = await run_sync(config, clock)
    async with services_for(config, clock) as (maker, _):
        before = await counts(maker)
    clock.advance(days=1)
    second, resumed = await run_sync(config, clock)
    assert second.id != first.id and not resumed
    assert (second.status, second.listed, second.detailed) == (DONE, 120, 120)
    assert (second.created, second.updated, second.left_count) == (0, 0, 0)
    async with services_for(config, clock) as (maker, _):
        assert await counts(maker) == before


async def test_followers_who_left_are_marked_unsubscribed(db_url, make_config, fake_wechat, clock):
    openids = seed(fake_wechat, 30, clock.now())
    config = sync_config(make_config, fake_wechat, db_url)
    await run_sync(config, clock)
    clock.advance(days=1)
    fake_wechat.state.followers.unfollow(openids[0])
    fake_wechat.state.followers.unfollow(openids[1])
    job, _ = await run_sync(config, clock)
    assert (job.left_count, job.created, job.updated) == (2, 0, 0)
    async with services_for(config, clock) as (maker, _):
        gone = await buyer(maker, openids[0])
        assert not gone.subscribed and gone.unsubscribed_at == clock.now()
        got = await counts(maker)
        assert (got["subscribed"], got["unfollows"]) == (28, 2)
        # Following again later (the webhook missed it): following again, one more follow.
        clock.advance(days=1)
        fake_wechat.state.followers.follow(openids[0], clock.now() - timedelta(hours=1))
        job, _ = await run_sync(config, clock)
        assert (job.updated, job.left_count) == (1, 0)
        back = await buyer(maker, openids[0])
        assert back.subscribed and back.subscribed_at == clock.now() - timedelta(hours=1)
        assert (await counts(maker))["follows"] == 31


async def test_someone_who_follows_or_writes_during_the_sync_is_not_marked_left(
    db_url, make_config, fake_wechat, clock
):
    """The listing may have passed before they followed: only a later sync can tell."""
    seed(fake_wechat, 10, clock.now())
    config = sync_config(make_config, fake_wechat, db_url)

    async def webhook_meanwhile(job) -> None:
        if job.phase == "detailing" and job.detailed == 0:  # the listing just completed
            clock.advance(seconds=30)
            async with maker.begin() as session:
                session.add(Buyer(openid="oNewFan", subscribed=True, subscribed_at=clock.now(),
                                  first_seen_at=clock.now(), tags=[], channels=[], interests=[]))  # fmt: skip

    async with services_for(config, clock) as (maker, services):
        job, _ = await sync_now(
            maker, services, trigger="cli", actor="测试", progress=webhook_meanwhile
        )
        assert (job.status, job.left_count) == (DONE, 0)
        assert (await buyer(maker, "oNewFan")).subscribed


async def test_a_batch_with_a_bad_openid_loses_no_good_follower(
    db_url, make_config, fake_wechat, clock
):
    openids = seed(fake_wechat, 150, clock.now())
    fans = fake_wechat.state.followers
    # An openid WeChat lists but refuses to describe (40003 for the whole batch).
    fans.order.append("oBroken")
    fans.position["oBroken"] = len(fans.order) - 1
    config = sync_config(make_config, fake_wechat, db_url)
    job, _ = await run_sync(config, clock)
    assert (job.status, job.listed, job.created, job.errors) == (DONE, 151, 150, 1)
    assert job.calls_detail > 2  # the refused batch was split to find the bad openid
    async with services_for(config, clock) as (maker, _):
        assert all([await buyer(maker, o) for o in openids[:3]])
        assert await buyer(maker, "oBroken") is None


async def test_busy_answers_are_retried(db_url, make_config, fake_wechat, clock):
    seed(fake_wechat, 20, clock.now())
    fake_wechat.inject(-1, 2, on="followers")
    fake_wechat.inject(45009, 1, on="followers")
    job, _ = await run_sync(sync_config(make_config, fake_wechat, db_url), clock)
    assert (job.status, job.created) == (DONE, 20)


async def test_the_daily_quota_pauses_the_sync_until_midnight_in_beijing(
    db_url, make_config, fake_wechat, clock
):
    seed(fake_wechat, 25, clock.now())
    fake_wechat.state.followers.page_size = 10
    clock.set(datetime(2026, 5, 18, 10, 0, tzinfo=UTC))  # 18:00 in Beijing
    config = sync_config(make_config, fake_wechat, db_url, followers={"user_get_daily_quota": 2})
    job, _ = await run_sync(config, clock)
    assert (job.status, job.phase, job.listed, job.calls_list) == (PAUSED, "listing", 20, 2)
    assert "今日「user/get」接口调用次数已用完" in job.error
    async with services_for(config, clock) as (maker, services):
        syncs = FollowerSyncs(maker, services)
        await syncs.resume_due()  # same platform day: stays paused
        assert not syncs.tasks
        clock.set(datetime(2026, 5, 18, 16, 1, tzinfo=UTC))  # 00:01 in Beijing
        await syncs.resume_due()
        await syncs.wait()
        assert (await counts(maker))["imported"] == 25
        async with maker() as session:
            resumed = await get_job(session, job.id)
    assert (resumed.status, resumed.listed, resumed.calls_list) == (DONE, 25, 4)


async def test_wechat_refusing_the_calls_fails_the_sync_with_a_reason(
    db_url, make_config, fake_wechat, clock
):
    seed(fake_wechat, 5, clock.now())
    fake_wechat.inject(48001, 1, on="followers")
    config = sync_config(make_config, fake_wechat, db_url)
    job, _ = await run_sync(config, clock)
    assert job.status == FAILED and "没有获取用户列表的接口权限" in job.error
    assert "48001" in job.error
    # Not resumed on its own (it would fail again); starting a sync again resumes it.
    async with services_for(config, clock) as (maker, services):
        syncs = FollowerSyncs(maker, services)
        clock.advance(hours=1)
        await syncs.resume_due()
        assert not syncs.tasks
    job2, resumed = await run_sync(config, clock)
    assert (job2.id, resumed, job2.status, job2.created) == (job.id, True, DONE, 5)


async def test_unfollow_events_are_dated_when_the_sync_noticed(
    db_url, make_config, fake_wechat, clock
):
    config = sync_config(make_config, fake_wechat, db_url)
    async with services_for(config, clock) as (maker, _):
        async with maker.begin() as session:
            session.add(Buyer(openid="oLong", subscribed=True, tags=[], channels=[],
                              interests=[], first_seen_at=clock.now() - timedelta(days=9),
                              subscribed_at=clock.now() - timedelta(days=9)))  # fmt: skip
    clock.advance(hours=1)
    job, _ = await run_sync(config, clock)
    assert job.left_count == 1
    async with services_for(config, clock) as (maker, _):
        async with maker() as session:
            event = await session.scalar(select(BuyerEvent).where(BuyerEvent.kind == UNFOLLOW))
        assert (event.at, event.imported) == (clock.now(), True)
