"""直播 / 预约 / 提醒我 through the real webhook, against a scheduled livestream campaign."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scheduler.campaigns import CampaignError, cancel_campaign, create_campaign, schedule_campaign
from scheduler.models import Rsvp

START = "2026-05-20T12:00:00+00:00"  # 20:00 in Asia/Shanghai; the test clock is 2026-05-18


async def make_livestream(
    wechat, clock, title="春季新品直播", start_at=START, schedule=True, **extra
):
    async with wechat.sessionmaker.begin() as session:
        campaign = await create_campaign(
            session,
            {
                "kind": "livestream",
                "name": title,
                "title": title,
                "start_at": start_at,
                "link": "https://live.example.com/spring",
                **extra,
            },
            clock,
        )
        if schedule:
            await schedule_campaign(session, campaign.id, clock)
        return campaign.id


async def rsvp_count(wechat, campaign_id):
    async with wechat.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(Rsvp).where(Rsvp.campaign_id == campaign_id)
        )


async def test_live_tells_the_next_livestream_in_beijing_time(wechat, clock):
    await make_livestream(wechat, clock, "秋季直播", start_at="2026-06-01T12:00:00+00:00")
    await make_livestream(wechat, clock)
    reply = await wechat.send_text("oBuyerA", "直播")
    assert "春季新品直播" in reply  # the earlier of the two
    assert "5月20日 20:00" in reply
    assert "https://live.example.com/spring" in reply
    assert "回复「预约」" in reply


async def test_live_without_a_scheduled_livestream_says_none_yet(wechat, clock):
    await make_livestream(wechat, clock, schedule=False)  # a draft is not announced
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "直播")


async def test_cancelled_or_past_livestreams_are_not_offered(wechat, clock):
    cid = await make_livestream(wechat, clock)
    async with wechat.sessionmaker.begin() as session:
        await cancel_campaign(session, cid, clock)
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "直播")
    await make_livestream(wechat, clock)
    clock.advance(days=3)  # after its start
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "直播")


async def test_rsvp_records_the_buyer_and_promises_the_start_reminder(wechat, clock):
    cid = await make_livestream(wechat, clock)
    reply = await wechat.send_text("oBuyerA", "预约")
    assert "预约成功" in reply and "5月20日 20:00" in reply and "开播时会提醒您" in reply
    assert await rsvp_count(wechat, cid) == 1
    assert "您已预约" in await wechat.send_text("oBuyerA", "直播")


async def test_rsvp_twice_keeps_one_rsvp(wechat, clock):
    cid = await make_livestream(wechat, clock)
    await wechat.send_text("oBuyerA", "提醒我")
    reply = await wechat.send_text("oBuyerA", "预约")
    assert "您已预约过" in reply
    assert await rsvp_count(wechat, cid) == 1


async def test_rsvp_without_a_livestream_records_nothing(wechat, clock):
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "预约")
    async with wechat.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Rsvp)) == 0


async def test_opted_out_buyer_is_told_the_rsvp_reminder_still_comes(wechat, clock):
    await make_livestream(wechat, clock)
    await wechat.send_text("oBuyerA", "退订")
    assert "预约的开播提醒照常发送" in await wechat.send_text("oBuyerA", "预约")


async def test_live_during_the_livestream_says_it_is_on_air(wechat, clock):
    await make_livestream(wechat, clock, start_at="2026-05-18T03:00:00+00:00")  # in 1 hour
    clock.advance(hours=2)  # started an hour ago
    reply = await wechat.send_text("oBuyerA", "直播")
    assert "【正在直播】春季新品直播" in reply and "https://live.example.com/spring" in reply
    assert "【正在直播】" in await wechat.send_text("oBuyerA", "预约")  # nothing left to RSVP to
    clock.advance(hours=2)  # three hours after the start: over
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "直播")


async def test_live_is_on_air_until_its_end_not_for_a_fixed_two_hours(wechat, clock):
    await make_livestream(wechat, clock, duration_s=4 * 3600)  # 20:00 – 24:00 Beijing time
    clock.set(clock.now().replace(day=20, hour=15, minute=0))  # 23:00 in Beijing: 3 h in
    reply = await wechat.send_text("oBuyerA", "直播")
    assert "【正在直播】春季新品直播" in reply and "预计 00:00 结束" in reply
    clock.set(clock.now().replace(hour=16, minute=1))  # 00:01: over
    assert "正在直播" not in await wechat.send_text("oBuyerA", "直播")


async def test_a_short_livestream_is_over_at_its_end_at(wechat, clock):
    await make_livestream(wechat, clock, end_at="2026-05-20T12:30:00+00:00")
    clock.set(clock.now().replace(day=20, hour=12, minute=20))
    assert "预计 20:30 结束" in await wechat.send_text("oBuyerA", "直播")
    clock.set(clock.now().replace(minute=45))
    assert "正在直播" not in await wechat.send_text("oBuyerA", "直播")


async def test_livestream_end_is_validated(wechat, clock):
    with pytest.raises(CampaignError, match="end_at: must be after start_at"):
        await make_livestream(wechat, clock, end_at="2026-05-20T11:00:00+00:00")
    with pytest.raises(CampaignError, match="duration_s"):
        await make_livestream(wechat, clock, duration_s=10)
    with pytest.raises(CampaignError, match="either end_at or duration_s"):
        await make_livestream(wechat, clock, end_at="2026-05-20T13:00:00+00:00", duration_s=3600)


async def test_a_livestream_scheduled_after_a_buyer_asked_is_offered_at_once(wechat, clock):
    # 直播 reads a schedule held in memory: scheduling must not leave it stale for a second.
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerA", "直播")
    cid = await make_livestream(wechat, clock, "夏季直播")
    assert "夏季直播" in await wechat.send_text("oBuyerB", "直播")
    async with wechat.sessionmaker.begin() as session:
        await cancel_campaign(session, cid, clock)
    assert "暂时还没有安排直播" in await wechat.send_text("oBuyerC", "直播")
