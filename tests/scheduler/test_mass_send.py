"""Mass send: marketing outside the window reaches buyers within their monthly allowance,
never by template message, and never twice — whatever happens to the answer."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from campaign_harness import Harness, assert_no_duplicates, config_for, iso
from sqlalchemy import select

from bot.wechat.client import WeChatAPITimeout
from scheduler.cli import _report_text
from scheduler.mass_sends import campaign_mass_report
from scheduler.models import Delivery, MassSend
from scheduler.reports import campaign_report


def broadcast(clock, **extra):
    return {"kind": "broadcast", "name": "b", "send_at": iso(clock), "text": "活动通知", **extra}


@pytest.fixture
def harness(make_config, fake_wechat, clock):
    def build(db_url=None, wechat=None, **campaigns):
        config = config_for(make_config, fake_wechat, db_url, **campaigns)
        if wechat:
            config = config.model_copy(update={"wechat": config.wechat.model_copy(update=wechat)})
        return Harness(config, clock, fake_wechat)

    return build


def kinds(h) -> Counter:
    return Counter(m["kind"] for m in h.sent_log())


async def test_a_recall_to_dormant_buyers_sends_no_template_and_reaches_them_by_mass_send(
    harness, clock
):
    async with harness() as h:
        dormant = await h.add_buyers(5, prefix="sleepy", interacted_ago=timedelta(days=40))
        cid = await h.campaign(
            {
                "kind": "recall",
                "name": "5·18大促",
                "all_day": True,
                "template_id": "TPL_RECALL",  # ignored for marketing
                "window_start": iso(clock),
                "window_end": iso(clock, days=1),
                "waves": [iso(clock, minutes=1)],
                "dormant_days": 30,
            }
        )
        clock.advance(minutes=1)
        await h.run(cid)
        assert kinds(h) == {"mass": 5}
        assert sorted(m["openid"] for m in h.sent_log()) == dormant
        async with h.sm() as session:
            channels = set(await session.scalars(select(Delivery.channel)))
            report = await campaign_mass_report(session, cid)
        assert channels == {"mass"}
        assert (report["calls"], report["recipients"]) == (1, 5)
        async with h.sm() as session:
            text = _report_text(await campaign_report(session, cid), "Asia/Shanghai")
        assert "mass sends 1 to 5; WeChat reported 0" in text  # the event comes later


async def test_the_fifth_mass_send_of_a_month_is_held_back_and_the_next_month_is_free(
    harness, clock, db_url
):
    async with harness(db_url) as h:
        clock.set(clock.now().replace(day=2, hour=4))  # early in a Beijing month
        await h.add_buyers(2, prefix="far", interacted_ago=timedelta(days=10))
        for n in range(5):
            cid = await h.campaign(broadcast(clock, name=f"第{n}次", text=f"第{n}次上新"))
            await h.run(cid)
        assert (await h.reasons(cid)) == {("skipped", "mass_quota"): 2}
        assert kinds(h) == {"mass": 8}
        assert Counter(m["openid"] for m in h.sent_log()) == {"far0": 4, "far1": 4}
        clock.advance(days=31)
        cid = await h.campaign(broadcast(clock, name="下个月", text="下个月上新"))
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 2}


async def test_a_mass_send_whose_answer_was_lost_is_retried_with_the_same_id_and_arrives_once(
    harness, clock
):
    async with harness() as h:
        await h.add_buyers(3, prefix="far", interacted_ago=timedelta(days=3))
        real_call = h.services.api.call
        lost = []

        async def answer_lost(method, path, payload=None, **kw):
            answer = await real_call(method, path, payload, **kw)
            if path.endswith("mass/send") and not lost:
                lost.append(payload["clientmsgid"])
                raise WeChatAPITimeout("the answer never came back")
            return answer

        h.services.api.call = answer_lost
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        assert (await h.statuses(cid)) == {"pending": 3}  # unknown: retried later
        clock.advance(minutes=5)
        await h.run(cid)
        assert (await h.statuses(cid)) == {"sent": 3}
        assert_no_duplicates(h.sent_log())
        assert [j["clientmsgid"] for j in h.fake.state.mass.jobs] == lost  # one job only
        assert lost[0] == f"laoke-c{cid}-s{(await h.steps(cid))[0].id}-b1"


async def test_a_text_too_long_for_mass_send_fails_only_the_mass_rows(harness, clock):
    async with harness() as h:
        await h.add_buyers(2, prefix="near")
        await h.add_buyers(2, prefix="far", interacted_ago=timedelta(days=3))
        cid = await h.campaign(broadcast(clock, text="新" * 301))
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 2, ("failed", "mass_too_long"): 2}
        assert kinds(h) == {"custom": 2}


async def test_a_subscription_account_mass_sends_once_a_day(harness, clock):
    async with harness(wechat={"account_type": "subscription", "verified": False}) as h:
        h.fake.state.mass.account_type = "subscription"
        await h.add_buyers(2, prefix="far", interacted_ago=timedelta(days=3))
        first = await h.campaign(broadcast(clock, name="一", text="第一条"))
        await h.run(first)
        second = await h.campaign(broadcast(clock, name="二", text="第二条"))
        await h.run(second)
        assert (await h.reasons(first)) == {("sent", None): 2}
        assert (await h.reasons(second)) == {("skipped", "mass_quota"): 2}
        clock.advance(days=1)
        third = await h.campaign(broadcast(clock, name="三", text="第三条"))
        await h.run(third)
        assert (await h.reasons(third)) == {("sent", None): 2}


async def test_a_buyer_alone_in_the_mass_channel_is_not_sent_a_list_of_one(harness, clock):
    async with harness() as h:
        await h.add_buyers(1, prefix="far", interacted_ago=timedelta(days=3))
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        assert (await h.reasons(cid)) == {("skipped", "mass_single"): 1}
        assert h.sent_log() == []


async def test_an_interrupted_mass_send_goes_back_to_pending_with_its_batch(harness, clock):
    """The sweep after a crash: a mass batch in flight is repeated (same clientmsgid)."""
    from scheduler.delivery import mark_in_flight_uncertain

    async with harness() as h:
        await h.add_buyers(3, prefix="far", interacted_ago=timedelta(days=3))
        real_call = h.services.api.call

        async def crash(method, path, payload=None, **kw):
            await real_call(method, path, payload, **kw)  # WeChat got it …
            raise KeyboardInterrupt  # … and the process died before hearing back

        h.services.api.call = crash
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        with pytest.raises(KeyboardInterrupt):
            await h.sender.run_once()
        h.services.api.call = real_call
        assert (await h.statuses(cid)) == {"sending": 3}
        async with h.sm() as session, session.begin():
            await mark_in_flight_uncertain(session, clock.now() + timedelta(minutes=11))
        await h.drain()
        assert (await h.statuses(cid)) == {"sent": 3}
        assert_no_duplicates(h.sent_log())
        async with h.sm() as session:
            assert (await session.scalar(select(MassSend))).status == "sent"


async def test_past_the_days_mass_send_calls_the_rows_wait_for_the_next_beijing_day(harness, clock):
    async with harness(wechat={"mass_calls_per_day": 1}) as h:
        clock.set(clock.now().replace(hour=2))  # 10:00 in Beijing
        await h.add_buyers(2, prefix="far", interacted_ago=timedelta(days=3))
        first = await h.campaign(broadcast(clock, name="一", text="第一条"))
        await h.run(first)
        second = await h.campaign(broadcast(clock, name="二", text="第二条"))
        await h.run(second)
        assert (await h.reasons(first)) == {("sent", None): 2}
        assert (await h.reasons(second)) == {("pending", "mass_calls"): 2}
        clock.advance(hours=13)  # 23:00 in Beijing: still the same platform day
        await h.run(second)
        assert (await h.statuses(second)) == {"pending": 2}
        clock.advance(hours=1, minutes=1)  # past midnight in Beijing
        await h.run(second)
        assert (await h.reasons(second)) == {("sent", None): 2}
        assert len(h.fake.state.mass.jobs) == 2
