"""The campaign report over hand-made deliveries, replies and orders, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.database import create_engine, sessionmaker
from bot.models import Buyer, InboundMessage
from members.orders import Order
from scheduler.campaigns import CampaignError, create_campaign, list_steps
from scheduler.models import Delivery
from scheduler.reports import campaign_report, report_is_balanced


@pytest.fixture
async def make(db_url):
    engine = create_engine(db_url)
    yield sessionmaker(engine)
    await engine.dispose()


async def setup_campaign(make, clock):
    """A livestream with 2 steps and 6 buyers, and deliveries in every state."""
    now = clock.now()
    async with make.begin() as session:
        campaign = await create_campaign(
            session,
            {
                "kind": "livestream",
                "name": "新品直播",
                "title": "新品直播",
                "start_at": (now + timedelta(hours=2)).isoformat(),
                "offsets_s": [],
            },
            clock,
        )
        announce, start = await list_steps(session, campaign.id)
        buyers = [
            Buyer(openid=f"o{i}", first_seen_at=now, tags=[], channels=[], interests=[])
            for i in range(6)
        ]
        session.add_all(buyers)
        await session.flush()

        def delivery(step, buyer, status, reason=None, channel=None, sent=None):
            return Delivery(
                step_id=step.id,
                campaign_id=campaign.id,
                buyer_id=buyer.id,
                openid=buyer.openid,
                status=status,
                reason=reason,
                channel=channel,
                sent_at=sent,
                created_at=now,
            )

        session.add_all(
            [
                delivery(announce, buyers[0], "sent", channel="custom", sent=now),
                delivery(announce, buyers[1], "sent", channel="custom", sent=now),
                delivery(announce, buyers[2], "sent", channel="template", sent=now),
                delivery(announce, buyers[3], "skipped", reason="outside_window"),
                delivery(announce, buyers[4], "failed", reason="errcode", channel="custom"),
                delivery(announce, buyers[5], "uncertain", reason="in_flight", channel="custom"),
                delivery(start, buyers[0], "sent", channel="custom", sent=now + timedelta(hours=2)),
                delivery(start, buyers[3], "skipped", reason="opted_out"),
                delivery(start, buyers[1], "pending"),
            ]
        )

        def inbound(buyer, at, key):
            return InboundMessage(
                dedup_key=key, openid=buyer.openid, msg_type="text", received_at=at
            )

        session.add_all(
            [
                inbound(buyers[0], now + timedelta(hours=1), "k0"),  # replied in time
                inbound(buyers[1], now + timedelta(hours=49), "k1"),  # too late
                inbound(buyers[2], now - timedelta(hours=1), "k2"),  # before the send
                inbound(buyers[3], now + timedelta(hours=1), "k3"),  # never reached
            ]
        )

        def order(no, buyer, at, counted=True):
            return Order(
                order_no=no,
                buyer_id=buyer.id,
                amount_cents=10000,
                ordered_at=at,
                counted=counted,
                first_import="i1",
                last_import="i1",
                updated_at=now,
            )

        session.add_all(
            [
                order("A1", buyers[1], now + timedelta(days=6, hours=23)),  # in the 7 days
                order("A2", buyers[2], now + timedelta(days=3), counted=False),  # refunded
                order("A3", buyers[0], now + timedelta(days=8, hours=3)),  # > 7 days after both
                order("A4", buyers[4], now + timedelta(days=1)),  # failed send: not reached
            ]
        )
        return campaign.id, announce.id, start.id


async def test_report_counts_every_outcome_by_reason_and_channel(make, clock):
    campaign_id, announce_id, start_id = await setup_campaign(make, clock)
    async with make() as session:
        report = await campaign_report(session, campaign_id)
    assert report["recipients"] == 9 and report["buyers"] == 6
    assert (report["sent"], report["failed"], report["skipped"]) == (4, 1, 2)
    assert (report["uncertain"], report["pending"]) == (1, 1)
    assert report_is_balanced(report)
    out = report["outcomes"]
    assert out["sent"]["by_channel"] == {"custom": 3, "template": 1}
    assert out["skipped"]["by_reason"] == {"outside_window": 1, "opted_out": 1}
    assert out["failed"]["by_reason"] == {"errcode": 1}
    assert out["uncertain"]["by_reason"] == {"in_flight": 1}


async def test_report_splits_totals_by_step(make, clock):
    campaign_id, announce_id, start_id = await setup_campaign(make, clock)
    async with make() as session:
        report = await campaign_report(session, campaign_id)
    steps = {s["id"]: s for s in report["steps"]}
    assert steps[announce_id]["kind"] == "announce" and steps[announce_id]["recipients"] == 6
    assert steps[announce_id]["sent"] == 3
    assert (steps[start_id]["sent"], steps[start_id]["skipped"], steps[start_id]["pending"]) == (
        1,
        1,
        1,
    )


async def test_conversion_counts_replies_within_48h_and_orders_within_7_days(make, clock):
    campaign_id, *_ = await setup_campaign(make, clock)
    async with make() as session:
        conversion = (await campaign_report(session, campaign_id))["conversion"]
    # Reached: o0, o1, o2. Replied in 48 h: o0 only. Ordered in 7 days (counted): o1 only.
    assert conversion["reached"] == 3
    assert conversion["replied_48h"] == 1
    assert conversion["ordered_7d"] == 1
    assert conversion["reply_rate"] == pytest.approx(1 / 3, abs=1e-4)


async def test_report_of_campaign_with_no_deliveries_is_all_zero(make, clock):
    async with make.begin() as session:
        campaign = await create_campaign(
            session,
            {"kind": "broadcast", "name": "b", "send_at": clock.now().isoformat(), "text": "hi"},
            clock,
        )
    async with make() as session:
        report = await campaign_report(session, campaign.id)
    assert report["recipients"] == 0 and report["conversion"]["reply_rate"] is None
    assert report["steps"][0]["recipients"] == 0


async def test_report_of_unknown_campaign_is_refused(make):
    async with make() as session:
        with pytest.raises(CampaignError, match="no campaign"):
            await campaign_report(session, 999)
