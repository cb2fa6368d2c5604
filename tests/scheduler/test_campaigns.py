"""Campaign lifecycle and each kind end to end against the fake WeChat, on a FakeClock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from campaign_harness import Harness, assert_no_duplicates, broadcast, config_for, iso
from sqlalchemy import update

from bot.models import Buyer
from scheduler.campaigns import (
    CampaignError,
    add_rsvp,
    cancel_campaign,
    create_campaign,
    next_livestream,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from scheduler.previews import preview_campaign

TIERS = {
    "levels": [
        {
            "key": "gold",
            "name": "金卡会员",
            "rank": 2,
            "min_spend": 50000,
            "perks": ["满5000减300", "优先发货"],
        },
        {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 10000, "perks": ["9.5折"]},
    ]
}


@pytest.fixture
async def h(make_config, fake_wechat, clock):
    config = config_for(make_config, fake_wechat)
    config = config.model_copy(update={"tiers": type(config.tiers).model_validate(TIERS)})
    async with Harness(config, clock, fake_wechat) as harness:
        yield harness


@pytest.fixture
def fanned_out(make_config, fake_wechat, clock):
    """A broadcast to ``buyers`` buyers, fanned out, sent ``batch_size`` at a time: (h, id)."""

    @contextlib.asynccontextmanager
    async def start(*, buyers: int, batch_size: int) -> AsyncIterator[tuple[Harness, int]]:
        config = config_for(make_config, fake_wechat, batch_size=batch_size)
        async with Harness(config, clock, fake_wechat) as h:
            await h.add_buyers(buyers)
            cid = await h.campaign(broadcast(clock))
            await h.tick()
            yield h, cid

    return start


def livestream(clock, **extra):
    return {
        "kind": "livestream",
        "name": "周五直播",
        "title": "春季新款直播",
        "start_at": iso(clock, days=2),
        "link": "https://live.example/1",
        **extra,
    }


async def test_broadcast_reaches_every_buyer_in_the_segment_once(h, clock):
    await h.add_buyers(20)
    cid = await h.campaign(
        {"kind": "broadcast", "name": "上新", "send_at": iso(clock, minutes=10), "text": "新品到货"}
    )
    await h.run(cid)
    assert h.sent_log() == []  # not due yet
    clock.advance(minutes=10)
    await h.run(cid)
    assert (await h.statuses(cid)) == {"sent": 20}
    log = h.sent_log()
    assert len(log) == 20 and all("新品到货" in m["content"] for m in log)
    assert_no_duplicates(log)
    assert (await h.get(cid)).status == "done"


async def test_broadcast_only_reaches_its_segment(h, clock):
    await h.add_buyers(3, prefix="gold", tier_key="gold")
    await h.add_buyers(3, prefix="plain")
    cid = await h.campaign(
        {
            "kind": "broadcast",
            "name": "金卡专场",
            "send_at": iso(clock),
            "text": "金卡专享",
            "segment": {"field": "tier", "op": "eq", "value": "gold"},
        }
    )
    await h.run(cid)
    assert sorted(m["openid"] for m in h.sent_log()) == ["gold0", "gold1", "gold2"]


async def test_livestream_announces_reminds_and_rsvps_get_the_start(h, clock):
    await h.add_buyers(2, prefix="fan", tags=["直播"])
    [outsider] = await h.add_buyers(1, prefix="rsvp")
    cid = await h.campaign(
        livestream(clock, segment={"field": "tags", "op": "contains", "value": "直播"})
    )
    assert [s.kind for s in await h.steps(cid)] == ["announce", "reminder", "reminder", "start"]
    await h.run(cid)  # the announcement goes out at once
    assert sorted(m["openid"] for m in h.sent_log()) == ["fan0", "fan1"]
    assert "【直播预告】春季新款直播" in h.sent_log()[0]["content"]
    async with h.sm() as session, session.begin():
        rsvp_buyer = (
            await session.execute(
                update(Buyer)
                .where(Buyer.openid == outsider)
                .values(opted_out=True)
                .returning(Buyer.id)
            )
        ).scalar_one()
        assert await add_rsvp(session, cid, rsvp_buyer, clock.now())
        assert not await add_rsvp(session, cid, rsvp_buyer, clock.now())  # once is enough
        assert (await next_livestream(session, clock.now())).id == cid
    for fan in ("fan0", "fan1", outsider):  # they keep chatting: windows stay open
        h.fake.open_window(fan, clock.now() + timedelta(days=1))
    async with h.sm() as session, session.begin():
        await session.execute(
            update(Buyer).values(last_interaction_at=clock.now() + timedelta(days=1))
        )
    clock.advance(days=1)  # 1 day before
    await h.run(cid)
    clock.advance(hours=23)  # 1 hour before
    await h.run(cid)
    clock.advance(hours=1)  # the start
    await h.run(cid)
    by_buyer = {o: [m["content"] for m in h.fake.messages(o)] for o in ("fan0", outsider)}
    assert len(by_buyer["fan0"]) == 4
    assert "1天后开播" in by_buyer["fan0"][1] and "1小时后开播" in by_buyer["fan0"][2]
    assert "开播啦" in by_buyer["fan0"][3]
    # The RSVP'd buyer is outside the segment and opted out, yet asked for the start reminder.
    assert len(by_buyer[outsider]) == 1 and "开播啦" in by_buyer[outsider][0]
    assert (await h.statuses(cid)) == {"sent": 9}
    assert (await h.get(cid)).status == "done"
    assert_no_duplicates(h.sent_log())


async def test_recall_reaches_dormant_buyers_by_one_mass_send_per_wave(h, clock):
    await h.add_buyers(
        2,
        prefix="sleepy",
        interacted_ago=timedelta(days=40),
        tier_key="gold",
        interests=["女装", "童装"],
        display_name="王姐",
    )
    await h.add_buyers(2, prefix="active", interacted_ago=timedelta(days=2))
    cid = await h.campaign(
        {
            "kind": "recall",
            "name": "5·18大促",
            "all_day": True,
            "template_id": "TPL_RECALL",
            "window_start": iso(clock),
            "window_end": iso(clock, days=1),
            "waves": [iso(clock, minutes=1), iso(clock, hours=12)],
            "dormant_days": 30,
        }
    )
    clock.advance(minutes=1)
    await h.run(cid)
    log = h.sent_log()
    # Dormant for 40 days: outside the 48-hour window, so a mass send carries it (marketing
    # never goes as a template message), one text for everybody: no name, no tier.
    assert sorted(m["openid"] for m in log) == ["sleepy0", "sleepy1"]
    assert {m["kind"] for m in log} == {"mass"} and len({m["msg_id"] for m in log}) == 1
    text = log[0]["content"]
    assert "老朋友，好久不见" in text and "5·18大促" not in text and "王姐" not in text
    clock.advance(hours=12)
    await h.run(cid)
    assert len(h.sent_log()) == 4  # the second wave, once more to each dormant buyer
    assert "第2轮福利提醒" in h.sent_log()[-1]["content"]
    assert_no_duplicates(h.sent_log())
    assert (await h.get(cid)).status == "done"


async def test_preview_renders_the_message_for_sample_buyers(h, clock):
    await h.add_buyers(7, tier_key="silver", display_name="李总", interacted_ago=timedelta(days=40))
    await h.add_buyers(2, prefix="active", display_name="活跃")  # not dormant: no recall
    async with h.sm() as session, session.begin():
        campaign = await create_campaign(
            session,
            {
                "kind": "recall",
                "name": "回归礼",
                "window_start": iso(clock),
                "window_end": iso(clock, days=3),
            },
            clock,
        )
        samples = (await preview_campaign(session, h.services, campaign.id, sample=5))["messages"]
    assert len(samples) == 5
    assert all("李总" in s["text"] and "9.5折" in s["text"] for s in samples)
    assert h.sent_log() == []  # a preview sends nothing


async def test_per_campaign_template_source_is_used_and_checked(h, clock):
    await h.add_buyers(1, display_name="张老板")
    cid = await h.campaign(
        {
            "kind": "broadcast",
            "name": "自定义",
            "send_at": iso(clock),
            "text": "x",
            "message_source": "{{ name }}您好：{{ text }}!",
        }
    )
    await h.run(cid)
    assert h.sent_log()[0]["content"] == "张老板您好：x!"
    with pytest.raises(CampaignError, match="message_source: line 1"):
        await h.campaign(
            {
                "kind": "broadcast",
                "name": "坏模板",
                "send_at": iso(clock),
                "text": "x",
                "message_source": "{% if %}",
            }
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"kind": "broadcast", "name": "b", "send_at": "2026-05-18T10:00:00"},
            "text: Field required",
        ),
        ({"kind": "webinar", "name": "w"}, "does not match any of the expected tags"),
        (
            {"kind": "livestream", "name": "l", "title": "t", "start_at": "2020-01-01T10:00:00"},
            "start_at: the livestream start is in the past",
        ),
        (
            {
                "kind": "recall",
                "name": "r",
                "window_start": "2026-05-19T00:00:00",
                "window_end": "2026-05-18T00:00:00",
            },
            "window_end must be after window_start",
        ),
        (
            {
                "kind": "recall",
                "name": "r",
                "window_start": "2026-05-18T00:00:00",
                "window_end": "2026-05-19T00:00:00",
                "waves": ["2026-05-20T10:00:00"],
            },
            "waves.0",
        ),
        (
            {
                "kind": "broadcast",
                "name": "b",
                "send_at": "2026-05-18T10:00:00",
                "text": "t",
                "segment": {"field": "shoe_size", "op": "eq", "value": 1},
            },
            "segment: field",
        ),
        (
            {
                "kind": "broadcast",
                "name": "b",
                "send_at": "2026-05-18T10:00:00",
                "text": "t",
                "colour": "red",
            },
            "colour: Extra inputs",
        ),
    ],
)
async def test_bad_campaign_is_refused_with_a_message_naming_the_problem(h, clock, spec, message):
    async with h.sm() as session:
        with pytest.raises(CampaignError) as err:
            await create_campaign(session, spec, clock)
    assert message in str(err.value)


async def test_illegal_transitions_are_refused_clearly(h, clock):
    cid = await h.campaign(livestream(clock), schedule=False)
    async with h.sm() as session, session.begin():
        with pytest.raises(CampaignError, match="is draft: cannot pause"):
            await pause_campaign(session, cid, clock)
        await schedule_campaign(session, cid, clock)
        with pytest.raises(CampaignError, match="is scheduled: cannot schedule"):
            await schedule_campaign(session, cid, clock)
        await pause_campaign(session, cid, clock)
        with pytest.raises(CampaignError, match="is paused: cannot pause"):
            await pause_campaign(session, cid, clock)
        await resume_campaign(session, cid, clock)
        await cancel_campaign(session, cid, clock)
        with pytest.raises(CampaignError, match="is cancelled: cannot resume"):
            await resume_campaign(session, cid, clock)
        with pytest.raises(CampaignError, match="no campaign with id 999"):
            await schedule_campaign(session, 999, clock)


async def test_naive_times_are_read_in_the_campaign_time_zone(h, clock):
    # The FakeClock starts at 2026-05-18 02:00 UTC = 10:00 in Shanghai.
    async with h.sm() as session, session.begin():
        campaign = await create_campaign(
            session,
            {"kind": "broadcast", "name": "b", "send_at": "2026-05-18T20:00:00", "text": "t"},
            clock,
        )
    assert campaign.params["send_at"] == "2026-05-18T12:00:00+00:00"


async def test_pause_stops_sending_mid_campaign_and_resume_finishes_it(fanned_out):
    async with fanned_out(buyers=35, batch_size=10) as (h, cid):
        assert await h.sender.run_once() == 10
        await h.act(cid, pause_campaign)
        assert await h.drain() == 0
        assert len(h.sent_log()) == 10
        await h.act(cid, resume_campaign)
        await h.run(cid)
        assert (await h.statuses(cid)) == {"sent": 35}
        assert_no_duplicates(h.sent_log())
        assert (await h.get(cid)).status == "done"


async def test_cancel_mid_send_skips_the_rest_and_accounts_for_everyone(fanned_out):
    async with fanned_out(buyers=35, batch_size=10) as (h, cid):
        await h.sender.run_once()
        await h.sender.run_once()
        await h.act(cid, cancel_campaign)
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 20, ("skipped", "cancelled"): 15}
        assert len(h.sent_log()) == 20
        assert (await h.get(cid)).status == "cancelled"


async def test_demo_schedules_a_livestream_and_a_recall_that_arrive_within_minutes(h, clock):
    from demo.demo_campaigns import seed_demo_campaigns

    await h.add_buyers(3, prefix="chatty")
    await h.add_buyers(2, prefix="sleepy", interacted_ago=timedelta(days=10))
    await seed_demo_campaigns(h.sm, h.config, clock)
    await seed_demo_campaigns(h.sm, h.config, clock)  # a restart does not double them
    await h.run(0)
    # Announced to everyone: in the window by customer-service message, the others by mass send.
    assert {(m["openid"][:6], m["kind"]) for m in h.sent_log()} == {
        ("chatty", "custom"), ("sleepy", "mass")}  # fmt: skip
    for _ in range(5):
        clock.advance(minutes=1)
        await h.run(0)
    by_buyer = {o: len(h.fake.messages(o)) for o in ("chatty0", "sleepy0")}
    # livestream ×3; the dormant: announcement, recall waves ×2 and the reminder by mass send,
    # the month's 4 — the start is held back by the allowance.
    assert by_buyer == {"chatty0": 3, "sleepy0": 4}
    assert {m["kind"] for m in h.fake.messages("sleepy0")} == {"mass"}
    recall_text = next(
        m["content"] for m in h.fake.messages("sleepy0") if "好久不见" in m["content"]
    )
    assert "「老客回归周」进行中" in recall_text and "演示" not in recall_text  # no internal name
    assert_no_duplicates(h.sent_log())


async def test_pause_or_cancel_arriving_while_a_batch_is_claimed_holds_that_batch(fanned_out):
    async with fanned_out(buyers=10, batch_size=5) as (h, cid):
        handle = h.sender._handle

        async def operator_acts_first(action):
            async def wrapped(*args):
                await h.act(cid, action)
                return await handle(*args)

            h.sender._handle = wrapped

        await operator_acts_first(pause_campaign)
        assert await h.sender.run_once() == 5
        h.sender._handle = handle
        assert (await h.statuses(cid)) == {"pending": 10} and h.sent_log() == []
        await h.act(cid, resume_campaign)
        await operator_acts_first(cancel_campaign)
        await h.sender.run_once()
        await h.tick()
        assert (await h.reasons(cid)) == {("skipped", "cancelled"): 10}
        assert h.sent_log() == []
