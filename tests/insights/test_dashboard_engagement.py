"""Interaction, the card funnel, tier moves and campaign conversion, on hand-made histories."""

from __future__ import annotations

from datetime import date, timedelta

from dashboard_world import SHANGHAI, World, local

from bot.clock import FakeClock
from bot.dialog.forms.store import FormState
from bot.inbound.events import CARD_CONFIRMED, CARD_CONSENTED, CARD_INVITED, FOLLOW
from insights.campaign_conversion import campaign_conversion
from insights.drill import FigureRef, figure_buyers
from insights.funnel import card_funnel
from insights.metrics import interaction
from insights.periods import DateRange
from insights.tier_moves import tier_moves
from members.tiers import TierChange
from scheduler.models import Campaign, CampaignStep, Delivery
from scheduler.reports import campaign_report

MAY = DateRange(date(2026, 5, 1), date(2026, 5, 31))
RANKS = {"silver": 1, "gold": 2}


async def test_senders_exclude_events_and_the_window_share_is_over_followers(sessions):
    clock = FakeClock(local(2026, 6, 10))
    end = local(2026, 6, 1)
    async with sessions.begin() as session:
        w = World(session)
        wrote, clicked, old, left = (w.buyer(local(2026, 1, 1)) for _ in range(4))
        quiet = w.buyer(local(2026, 1, 1))
        await w.flush()
        w.message(wrote, end - timedelta(hours=3))  # a message inside 48 h
        w.message(clicked, end - timedelta(hours=5), event="CLICK")  # an event: in window only
        w.message(old, end - timedelta(days=20))  # wrote within 30 days, not 7
        w.message(left, end - timedelta(hours=2))
        w.event(left, "unfollow", end - timedelta(hours=1))  # left: not a follower at the end
        w.message(quiet, end - timedelta(days=40))
        for b in (wrote, clicked, old, left, quiet):
            w.event(b, FOLLOW, local(2026, 1, 1))
        await w.flush()
        got = await interaction(session, MAY, "month", SHANGHAI, clock)
        assert got.series["active_7"] == [2]  # wrote, left
        assert got.series["active_30"] == [3]  # + old
        assert got.series["in_window"] == [2]  # wrote and clicked; left unfollowed
        assert got.series["followers"] == [4]
        assert got.series["window_share"] == [0.5]
        page = await figure_buyers(session, FigureRef("in_window", MAY), SHANGHAI, clock)
        assert page.buyer_ids == sorted([wrote.id, clicked.id])


async def test_card_funnel_stages_stuck_question_and_skipped_fields(sessions):
    clock = FakeClock(local(2026, 6, 10))
    async with sessions.begin() as session:
        w = World(session)
        done = w.buyer(local(2026, 5, 2), company="老王服饰", phone=None, platform_account="wang")
        half = w.buyer(local(2026, 5, 3))
        shy = w.buyer(local(2026, 5, 4))
        earlier = w.buyer(local(2026, 4, 4))  # followed in April: not in May's funnel
        await w.flush()
        for b in (done, half, shy):
            w.event(b, FOLLOW, b.first_seen_at)
            w.event(b, CARD_INVITED, b.first_seen_at + timedelta(minutes=1))
        w.event(earlier, FOLLOW, earlier.first_seen_at)
        for b in (done, half):
            w.event(b, CARD_CONSENTED, b.first_seen_at + timedelta(minutes=2))
        w.event(done, CARD_CONFIRMED, local(2026, 5, 5))
        w.order(done, local(2026, 3, 1), 10)  # matched: an order linked to the buyer
        now = clock.now()
        session.add(
            FormState(
                buyer_id=half.id, form="card", step="region", values={}, history=[],
                started_at=now, updated_at=now,
            )
        )  # fmt: skip
        await w.flush()
        funnel = await card_funnel(session, MAY, "month", SHANGHAI, clock)
        assert [(s.name, s.buyers) for s in funnel.stages] == [
            ("followed", 3),
            ("invited", 3),
            ("consented", 2),
            ("confirmed", 1),
            ("matched", 1),
        ]
        assert funnel.stages[0].previous_period == 1
        assert funnel.stuck_at == [("region", 1)]
        skipped = {f: n for f, _, n in funnel.skipped}
        assert skipped["phone"] == 1 and skipped["company"] == 0 and skipped["channels"] == 1
        page = await figure_buyers(
            session, FigureRef("funnel", MAY, stage="consented"), SHANGHAI, clock
        )
        assert page.buyer_ids == sorted([done.id, half.id])
        page = await figure_buyers(session, FigureRef("stuck", MAY, step="region"), SHANGHAI, clock)
        assert page.buyer_ids == [half.id]


async def test_tier_moves_are_net_per_buyer_and_bucket(sessions):
    clock = FakeClock(local(2026, 6, 10))
    async with sessions.begin() as session:
        w = World(session)
        up, down, bounce = (w.buyer(local(2026, 1, 1)) for _ in range(3))
        up.tier_key, down.tier_key = "gold", "silver"
        await w.flush()

        def change(b, a, z, at):
            session.add(
                TierChange(buyer_id=b.id, from_key=a, to_key=z, reason="orders", created_at=at)
            )

        change(up, None, "silver", local(2026, 5, 3))
        change(up, "silver", "gold", local(2026, 5, 20))
        change(down, "gold", "silver", local(2026, 5, 4))
        change(bounce, None, "silver", local(2026, 5, 5))  # up and back down: no move
        change(bounce, "silver", None, local(2026, 5, 6))
        await w.flush()
        got = await tier_moves(session, MAY, "month", SHANGHAI, clock, ranks=RANKS)
        assert got.up == [1] and got.down == [1]
        assert got.flows == {"none>gold": 1, "gold>silver": 1}
        assert got.distribution == {"gold": 1, "silver": 1, "none": 1}
        weeks = await tier_moves(session, MAY, "week", SHANGHAI, clock, ranks=RANKS)
        # Weeks from Monday 04-27: none→silver on 05-03, gold→silver on 05-04, the bounce
        # within the week of 05-04 is no move, silver→gold on 05-20.
        assert weeks.up == [1, 0, 0, 1, 0] and weeks.down == [0, 1, 0, 0, 0]
        page = await figure_buyers(session, FigureRef("tier_up", MAY), SHANGHAI, clock, ranks=RANKS)
        assert page.buyer_ids == [up.id]


async def test_campaign_reached_replied_within_48h_ordered_within_7_days(sessions):
    clock = FakeClock(local(2026, 6, 20))
    sent = local(2026, 5, 18, 10)
    async with sessions.begin() as session:
        w = World(session)
        fast, slow, buyer_later, none = (w.buyer(local(2026, 1, 1)) for _ in range(4))
        campaign = Campaign(
            name="5·18 粉丝召回", kind="recall", status="done", params={},
            created_at=sent, updated_at=sent,
        )  # fmt: skip
        session.add(campaign)
        await w.flush()
        step = CampaignStep(campaign_id=campaign.id, kind="wave", due_at=sent, status="done")
        session.add(step)
        await w.flush()
        for b in (fast, slow, buyer_later, none):
            session.add(
                Delivery(
                    step_id=step.id, campaign_id=campaign.id, buyer_id=b.id, openid=b.openid,
                    status="sent", sent_at=sent, created_at=sent,
                )
            )  # fmt: skip
        w.message(fast, sent + timedelta(hours=47))
        w.message(slow, sent + timedelta(hours=49))  # too late to count as a reply
        w.message(none, sent + timedelta(hours=1), event="CLICK")  # an event is no reply
        w.order(fast, sent + timedelta(days=6, hours=23), 100)
        w.order(buyer_later, sent + timedelta(days=7, minutes=1), 100)  # too late
        w.order(slow, sent + timedelta(days=1), 100, counted=False)  # refunded
        await w.flush()
        got = await campaign_conversion(session, MAY, "month", SHANGHAI, clock)
        [c] = got.campaigns
        assert (c.reached, c.replied, c.ordered) == (4, 1, 1)
        assert got.by_kind["recall"] == {"campaigns": 1, "reached": 4, "replied": 1, "ordered": 1}
        assert got.by_kind_previous["recall"]["campaigns"] == 0
        page = await figure_buyers(
            session,
            FigureRef("campaign", MAY, campaign_id=campaign.id, stage="replied"),
            SHANGHAI,
            clock,
        )
        assert page.buyer_ids == [fast.id]


async def test_the_funnel_matches_only_counted_orders(sessions):
    clock = FakeClock(local(2026, 6, 10))
    async with sessions.begin() as session:
        w = World(session)
        paid, refunded = (w.buyer(local(2026, 5, 2)) for _ in range(2))
        await w.flush()
        for b in (paid, refunded):
            w.event(b, FOLLOW, b.first_seen_at)
            for m, kind in enumerate((CARD_INVITED, CARD_CONSENTED, CARD_CONFIRMED), 1):
                w.event(b, kind, b.first_seen_at + timedelta(minutes=m))
        w.order(paid, local(2026, 5, 6), 10)
        w.order(refunded, local(2026, 5, 6), 10, counted=False)  # refunded: matches nothing
        await w.flush()
        funnel = await card_funnel(session, MAY, "month", SHANGHAI, clock)
        assert [s.buyers for s in funnel.stages] == [2, 2, 2, 2, 1]
        page = await figure_buyers(
            session, FigureRef("funnel", MAY, stage="matched"), SHANGHAI, clock
        )
        assert page.buyer_ids == [paid.id]


async def test_a_campaign_reply_means_the_same_on_the_dashboard_and_in_the_report(sessions):
    clock = FakeClock(local(2026, 6, 20))
    sent, reminder = local(2026, 5, 18, 10), local(2026, 5, 20, 20)
    async with sessions.begin() as session:
        w = World(session)
        late, clicked, wrote = (w.buyer(local(2026, 1, 1)) for _ in range(3))
        campaign = Campaign(
            name="直播预告", kind="livestream", status="done", params={},
            created_at=sent, updated_at=sent,
        )  # fmt: skip
        session.add(campaign)
        await w.flush()
        for due in (sent, reminder):
            step = CampaignStep(campaign_id=campaign.id, kind="announce", due_at=due, status="done")
            session.add(step)
            await w.flush()
            for b in (late, clicked, wrote):
                session.add(
                    Delivery(
                        step_id=step.id, campaign_id=campaign.id, buyer_id=b.id, openid=b.openid,
                        status="sent", sent_at=due, created_at=due,
                    )
                )  # fmt: skip
        w.message(late, sent + timedelta(hours=60))  # 2.5 days after the first send, but
        # 12 hours after the reminder: a reply to the campaign
        w.message(clicked, sent + timedelta(hours=1), event="CLICK")  # an event answers nothing
        w.message(wrote, sent + timedelta(hours=3))
        await w.flush()
        [c] = (await campaign_conversion(session, MAY, "month", SHANGHAI, clock)).campaigns
        report = await campaign_report(session, campaign.id)
    assert c.replied == report["conversion"]["replied_48h"] == 2
    assert c.reached == report["conversion"]["reached"] == 3
