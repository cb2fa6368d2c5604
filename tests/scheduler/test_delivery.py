"""Delivery: channels, quotas, caps, quiet hours, faults, claiming and rows in flight."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import pytest
from campaign_harness import Harness, assert_no_duplicates, config_for, iso
from sqlalchemy import func, select, update

from bot.models import Buyer, OutboundMessage
from scheduler.delivery import (
    Result,
    claim_deliveries,
    mark_in_flight_uncertain,
    mark_sending,
    record_results,
)
from scheduler.models import Delivery
from scheduler.sender import Sender


def broadcast(clock, **extra):
    return {"kind": "broadcast", "name": "b", "send_at": iso(clock), "text": "活动通知", **extra}


@pytest.fixture
def harness(make_config, fake_wechat, clock):
    def build(db_url=None, mass_off=False, **campaigns):
        config = config_for(make_config, fake_wechat, db_url, **campaigns)
        if mass_off:  # no mass sends left this month: only the window counts
            config = config.model_copy(
                update={"wechat": config.wechat.model_copy(update={"mass_per_follower_month": 0})}
            )
        return Harness(config, clock, fake_wechat)

    return build


def accounted(statuses, recipients):
    settled = sum(statuses[s] for s in ("sent", "failed", "skipped", "uncertain"))
    return settled == recipients and not statuses["pending"] and not statuses["claimed"]


async def test_marketing_outside_the_window_goes_by_mass_send_never_by_template(harness, clock):
    async with harness() as h:
        await h.add_buyers(2, prefix="near")
        await h.add_buyers(2, prefix="far", interacted_ago=timedelta(hours=49))
        with_template = await h.campaign(broadcast(clock, name="t", template_id="TPL1"))
        await h.run(with_template)
        kinds = {m["openid"]: m["kind"] for m in h.sent_log() if "活动通知" in str(m)}
        assert kinds == {"near0": "custom", "near1": "custom", "far0": "mass", "far1": "mass"}
        assert (await h.reasons(with_template)) == {("sent", None): 4}


async def test_the_five_message_quota_counts_earlier_customer_service_messages(harness, clock):
    async with harness(mass_off=True) as h:
        [busy, fresh] = await h.add_buyers(2)
        async with h.sm() as session, session.begin():
            session.add_all(
                OutboundMessage(
                    openid=busy,
                    channel="custom",
                    purpose="reply",
                    content="x",
                    created_at=clock.now(),
                    result="ok",
                )
                for _ in range(5)
            )
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 1, ("skipped", "mass_quota"): 1}
        assert [m["openid"] for m in h.sent_log()] == [fresh]


async def test_wechat_saying_out_of_window_sends_marketing_by_mass_never_by_template(
    harness, clock
):
    async with harness() as h:
        stale = await h.add_buyers(3, interacted_ago=None)
        async with (
            h.sm() as session,
            session.begin(),
        ):  # our record says in window; WeChat disagrees (45015)
            await session.execute(update(Buyer).values(last_interaction_at=clock.now()))
        cid = await h.campaign(broadcast(clock, template_id="TPL1"))
        await h.run(cid)
        assert sorted((m["openid"], m["kind"]) for m in h.sent_log()) == [
            (o, "mass") for o in stale
        ]
        async with h.sm() as session:
            rows = list(await session.scalars(select(Delivery).where(Delivery.campaign_id == cid)))
        assert {(r.status, r.channel) for r in rows} == {("sent", "mass")}


async def test_frequency_cap_holds_back_a_second_campaign_but_not_an_all_day_one(harness, clock):
    async with harness(cap_per_day=1, cap_per_week=3) as h:
        await h.add_buyers(3)
        first = await h.campaign(broadcast(clock, name="一"))
        await h.run(first)
        second = await h.campaign(broadcast(clock, name="二", text="第二条"))
        all_day = await h.campaign(broadcast(clock, name="全天", text="全天活动", all_day=True))
        await h.run(second)
        assert (await h.reasons(second)) == {("skipped", "cap_day"): 3}
        assert (await h.statuses(all_day)) == {"sent": 3}
        clock.advance(days=1, minutes=1)  # next day: the daily cap is free again
        third = await h.campaign(broadcast(clock, name="三", text="第三条"))
        await h.run(third)
        assert (await h.statuses(third)) == {"sent": 3}


async def test_weekly_cap_applies_across_days(harness, clock):
    async with harness(cap_per_day=5, cap_per_week=2) as h:
        await h.add_buyers(1, interacted_ago=timedelta(minutes=1))
        for day in range(3):
            h.fake.open_window("o0", clock.now())
            async with h.sm() as session, session.begin():
                await session.execute(update(Buyer).values(last_interaction_at=clock.now()))
            cid = await h.campaign(broadcast(clock, name=f"d{day}", text=f"第{day}天"))
            await h.run(cid)
            clock.advance(days=1)
        assert (await h.reasons(cid)) == {("skipped", "cap_week"): 1}
        assert len(h.sent_log()) == 2


async def test_quiet_hours_hold_rows_until_morning_except_all_day_campaigns(harness, clock):
    # Clock: 2026-05-18 02:00 UTC = 10:00 Shanghai; quiet 09:00-12:00 local for the test.
    async with harness(quiet_start=time(9, 0), quiet_end=time(12, 0)) as h:
        await h.add_buyers(2)
        normal = await h.campaign(broadcast(clock, name="普通"))
        all_day = await h.campaign(broadcast(clock, name="全天", text="全天", all_day=True))
        await h.run(normal)
        assert (await h.statuses(normal)) == {"pending": 2}
        assert (await h.statuses(all_day)) == {"sent": 2}
        clock.advance(hours=2)  # 12:00 local
        await h.run(normal)
        assert (await h.statuses(normal)) == {"sent": 2}


async def test_buyers_who_opt_out_or_unfollow_after_fan_out_are_skipped(harness, clock):
    async with harness(batch_size=100) as h:
        [quitter, leaver, stayer] = await h.add_buyers(3)
        cid = await h.campaign(broadcast(clock))
        await h.tick()  # fanned out to all three
        async with h.sm() as session, session.begin():
            await session.execute(
                update(Buyer).where(Buyer.openid == quitter).values(opted_out=True)
            )
            await session.execute(
                update(Buyer).where(Buyer.openid == leaver).values(subscribed=False)
            )
        await h.run(cid)
        assert (await h.reasons(cid)) == {
            ("sent", None): 1,
            ("skipped", "opted_out"): 1,
            ("skipped", "unsubscribed"): 1,
        }
        assert [m["openid"] for m in h.sent_log()] == [stayer]


async def test_busy_errors_and_timeouts_are_retried_with_exact_accounting(harness, clock):
    async with harness(max_retries=3, retry_backoff_s=10) as h:
        await h.add_buyers(30)
        await h.services.api.get_access_token()
        h.fake.inject(expire_tokens=True)  # the client gets 42001, refreshes and resends
        h.fake.inject(-1, count=4)
        h.fake.inject(45009, count=3)
        h.fake.inject(drop=3)  # connections dropped before WeChat took the message
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        first = await h.statuses(cid)
        assert first["pending"] == 10 and first["sent"] == 20
        clock.advance(seconds=10)
        await h.run(cid)
        assert (await h.statuses(cid)) == {"sent": 30}
        assert h.fake.token_fetches == 2
        assert_no_duplicates(h.sent_log())
        assert len(h.sent_log()) == 30


async def test_retries_stop_at_the_limit_and_other_errors_fail_with_their_code(harness, clock):
    async with harness(max_retries=1, retry_backoff_s=1) as h:
        await h.add_buyers(3)
        h.fake.inject(-1, count=2)  # buyer o0: twice busy → failed after 1 retry
        h.fake.inject(40003, count=1)  # invalid openid: fails at once
        cid = await h.campaign(broadcast(clock))
        h.sender.batch = 1  # one buyer at a time so each fault hits a known row
        await h.tick()
        await h.sender.run_once()  # o0: -1
        clock.advance(seconds=1)
        await h.sender.run_once()  # o0 retried: -1 → failed
        await h.sender.run_once()  # o1: 40003
        await h.sender.run_once()  # o2: sent
        await h.tick()
        statuses = await h.statuses(cid)
        assert accounted(statuses, 3)
        async with h.sm() as session:
            rows = {
                r.openid: (r.status, r.reason, r.errcode, r.attempts)
                for r in await session.scalars(select(Delivery).where(Delivery.campaign_id == cid))
            }
        assert rows == {
            "o0": ("failed", "errcode", -1, 2),
            "o1": ("failed", "errcode", 40003, 1),
            "o2": ("sent", None, None, 1),
        }
        assert (await h.get(cid)).status == "done"


async def test_a_dead_senders_started_rows_become_uncertain_and_the_rest_are_sent(
    harness, clock, db_url
):
    async with harness(db_url) as h:
        await h.add_buyers(10)
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        dead = Sender(h.sm, h.services, worker_id="sender:dead")
        await dead.heartbeat()
        async with h.sm() as session, session.begin():  # it claimed 4 rows …
            claimed = await claim_deliveries(session, "sender:dead", clock.now(), 4)
            assert len(claimed) == 4
        async with h.sm() as session, session.begin():  # … started 2 requests, then crashed
            started = await mark_sending(session, "sender:dead", [c.id for c in claimed[:2]])
            assert started == {c.id for c in claimed[:2]}
        await h.run(cid)  # a live sender sends the rest; the dead one's lease still runs
        assert (await h.statuses(cid)) == {"sent": 6, "claimed": 2, "sending": 2}
        clock.advance(seconds=61)  # its heartbeat lease lapses
        await h.run(cid)
        statuses = await h.statuses(cid)
        # Only the requests that had started are in doubt; the 2 never started were sent.
        assert statuses == {"sent": 8, "uncertain": 2} and accounted(statuses, 10)
        assert await h.reasons(cid) == {("sent", None): 8, ("uncertain", "in_flight"): 2}
        assert len(h.sent_log()) == 8  # the uncertain rows were not sent again
        assert (await h.get(cid)).status == "done"


async def test_at_most_concurrency_rows_are_ever_in_doubt_during_a_batch(
    harness, fake_wechat, clock, db_url
):
    """What a crash at any instant would leave uncertain: the rows `sending`. A row's result is
    written when its task starts the next one, so they never outnumber the tasks."""
    async with harness(db_url, concurrency=4, batch_size=40) as h:
        await h.add_buyers(40)
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        fake_wechat.inject(latency_ms=30)
        batch = asyncio.create_task(h.sender.run_once())
        in_doubt = []
        while not batch.done():
            in_doubt.append((await h.statuses(cid))["sending"])
            await asyncio.sleep(0.005)
        assert await batch == 40
        assert 0 < max(in_doubt) <= 4
        assert await h.statuses(cid) == {"sent": 40}


async def test_a_row_given_up_on_is_not_sent_by_its_late_sender(harness, clock, db_url):
    """A sender silent past its lease finds its claimed rows gone back to pending: it may not
    start them (another sender may have them now)."""
    async with harness(db_url) as h:
        await h.add_buyers(2)
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        async with h.sm() as session, session.begin():
            rows = await claim_deliveries(session, "sender:late", clock.now(), 2)
        clock.advance(seconds=61)
        async with h.sm() as session, session.begin():
            assert await mark_in_flight_uncertain(session, clock.now()) == 0
        assert await h.statuses(cid) == {"pending": 2}
        async with h.sm() as session, session.begin():
            assert await mark_sending(session, "sender:late", [r.id for r in rows]) == set()


async def test_a_sender_cut_off_past_its_lease_still_settles_what_it_knows(harness, clock, db_url):
    async with harness(db_url) as h:
        await h.add_buyers(3)
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        async with h.sm() as session, session.begin():
            a, b, c = await claim_deliveries(session, "sender:cut-off", clock.now(), 3)
            await mark_sending(session, "sender:cut-off", [a.id, b.id, c.id])
        # It sent, then could not reach the database for over a minute: the sweep gave up on it.
        clock.advance(seconds=61)
        async with h.sm() as session, session.begin():
            assert await mark_in_flight_uncertain(session, clock.now()) == 3
        later = clock.now() + timedelta(minutes=1)
        async with h.sm() as session, session.begin():  # the database is back: it records
            await record_results(
                session,
                "sender:cut-off",
                [
                    Result(a.id, "sent", channel="custom", attempts=1, sent_at=clock.now()),
                    Result(b.id, "failed", "errcode", "custom", 40003, 1),
                    Result(c.id, "pending", "timeout", "custom", None, 1, next_attempt_at=later),
                ],
            )
        assert await h.reasons(cid) == {
            ("sent", None): 1,  # known: settled
            ("failed", "errcode"): 1,  # known: settled
            ("uncertain", "in_flight"): 1,  # a timeout may have arrived: never reopened
        }
        async with h.sm() as session, session.begin():  # another sender's results do nothing
            await record_results(session, "sender:other", [Result(c.id, "sent", attempts=1)])
        assert ("uncertain", "in_flight") in await h.reasons(cid)


async def test_two_senders_never_claim_the_same_row(harness, clock, db_url):
    async with harness(db_url) as h:
        await h.add_buyers(50)
        await h.campaign(broadcast(clock))
        await h.tick()

        async def claim(worker):
            async with h.sm() as session, session.begin():
                return [c.id for c in await claim_deliveries(session, worker, clock.now(), 20)]

        batches = await asyncio.gather(*(claim(f"sender:{i}") for i in range(4)))
        ids = [i for batch in batches for i in batch]
        assert len(ids) == len(set(ids)) == 50
        async with h.sm() as session:
            assert (
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "claimed")
                )
                == 50
            )
            # Nobody holds a live lease for these workers and none of them started a request:
            # every row goes back to pending, none is in doubt.
        async with h.sm() as session, session.begin():
            assert await mark_in_flight_uncertain(session, clock.now()) == 0
        async with h.sm() as session:
            assert (
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                )
                == 50
            )


async def test_campaign_end_to_end_on_both_databases(harness, clock, db_url):
    async with harness(db_url, batch_size=7) as h:
        await h.add_buyers(25)
        await h.add_buyers(5, prefix="far", interacted_ago=timedelta(days=3))
        h.fake.inject(-1, count=2)
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        clock.advance(minutes=5)
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 30}
        assert {m["kind"] for m in h.sent_log() if m["openid"].startswith("far")} == {"mass"}
        assert_no_duplicates(h.sent_log())
        assert (await h.get(cid)).status == "done"


async def test_an_unexpected_send_error_is_reported_uncertain_never_resent(harness, clock):
    async with harness() as h:
        await h.add_buyers(3)
        real_send = h.services.api.send_text

        async def flaky(openid, content):
            if openid == "o1":
                raise RuntimeError("socket in a strange state")
            return await real_send(openid, content)

        h.services.api.send_text = flaky
        cid = await h.campaign(broadcast(clock))
        await h.run(cid)
        clock.advance(hours=1)
        await h.run(cid)
        assert (await h.reasons(cid)) == {("sent", None): 2, ("uncertain", "send_error"): 1}
        assert (await h.get(cid)).status == "done"


async def test_senders_alive_share_the_account_rate_limit(harness, clock, db_url):
    async with harness(db_url, rate_limit_per_s=300.0, batch_size=1000) as h:
        first = h.sender
        second = Sender(h.sm, h.services, worker_id="sender:second")
        third = Sender(h.sm, h.services, worker_id="sender:third")
        for sender in (first, second, third, first):
            await sender.heartbeat()
        assert first.bucket.rate == 100.0  # WeChat counts the account: 300/s over three
        assert first.batch == 500  # a batch stays ~5 s of this sender's share
        stopped = asyncio.Event()
        stopped.set()
        await second.run(stopped)  # a sender that stops gives its lease back
        assert first.bucket.rate == 100.0  # until the next heartbeat
        await first.heartbeat()
        assert first.bucket.rate == 150.0
        clock.advance(seconds=61)  # third died without releasing: its lease lapses
        await first.heartbeat()
        assert first.bucket.rate == 300.0


async def test_a_batch_sent_during_a_database_outage_is_recorded_when_it_is_back(
    make_config, fake_wechat, clock, own_pg
):
    config = config_for(make_config, fake_wechat, own_pg.url, concurrency=5)
    async with Harness(config, clock, fake_wechat) as h:
        await h.add_buyers(20)
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        fake_wechat.inject(latency_ms=300)  # 20 sends, 5 at a time: ~1.2 s
        batch = asyncio.create_task(h.sender.run_once())

        async def sent(n: int) -> None:
            for _ in range(500):
                if len(h.sent_log()) >= n:
                    return
                await asyncio.sleep(0.01)
            raise AssertionError(f"{n} messages were not sent")

        await sent(5)
        await own_pg.down()  # the batch is on its way out
        at_outage = len(h.sent_log())
        await asyncio.sleep(0.7)
        # Requests already started finish; no new one starts while its start cannot be
        # recorded (a crash then could not tell whether it was sent).
        out = len(h.sent_log())
        assert out <= at_outage + 5 and out < 20
        assert not batch.done()  # the results wait for the database, not dropped
        await own_pg.up()
        assert await asyncio.wait_for(batch, 30) == 20
        # Recorded, none left claimed or uncertain: the rows never started are pending again.
        assert await h.statuses(cid) == {"sent": out, "pending": 20 - out}
        await h.drain()
        assert await h.statuses(cid) == {"sent": 20}
        assert_no_duplicates(h.sent_log())
