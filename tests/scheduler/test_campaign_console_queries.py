"""The domain functions behind the console's campaign pages, on SQLite and PostgreSQL: the
list's live counts and funnel, the recipients page (outcome filter, keyset paging), what
holds buyers back before scheduling, editing and duplicating drafts, and staff binding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import CampaignsConfig
from bot.models import Buyer, InboundMessage
from console.accounts import create_user
from members.orders import Order
from scheduler.campaigns import CampaignError, create_campaign, list_steps, schedule_campaign
from scheduler.drafts import duplicate_campaign, spec_of, update_draft
from scheduler.mass_sends import month_of
from scheduler.models import SENDING, SENT, SKIPPED, Delivery, MassAllowance
from scheduler.overview import campaign_rows, schedule_summary
from scheduler.reports import recipient_page
from scheduler.staff_sends import bind_by_code, binding_of, new_bind_code


def broadcast(clock, **extra):
    return {"kind": "broadcast", "name": "上新", "text": "到货",
            "send_at": (clock.now() + timedelta(hours=1)).isoformat(), **extra}  # fmt: skip


async def _buyers(session, clock, n, **fields):
    buyers = []
    for i in range(n):
        b = Buyer(openid=f"o{fields.get('tier_key')}{i}", first_seen_at=clock.now() - timedelta(
            days=90), subscribed=True, tags=[], channels=[], interests=[], **fields)  # fmt: skip
        session.add(b)
        buyers.append(b)
    await session.flush()
    return buyers


async def test_rows_count_progress_and_funnel_and_pages_recipients(sessions, clock):
    now = clock.now()
    async with sessions() as session, session.begin():
        c = await create_campaign(session, broadcast(clock), clock)
        step = (await list_steps(session, c.id))[0]
        buyers = await _buyers(session, clock, 5)
        for b, status in zip(buyers, [SENT, SENT, SENT, SKIPPED, SENDING], strict=True):
            session.add(Delivery(step_id=step.id, campaign_id=c.id, buyer_id=b.id, openid=b.openid,
                                 status=status, created_at=now,
                                 reason="cap_day" if status == SKIPPED else None,
                                 sent_at=now - timedelta(hours=2) if status == SENT else None))  # fmt: skip
        session.add(InboundMessage(openid=buyers[0].openid, msg_type="text", content="好",
                                   dedup_key="m1", received_at=now - timedelta(hours=1)))  # fmt: skip
        session.add(Order(order_no="A1", buyer_id=buyers[1].id, amount_cents=100, status="paid",
                          counted=True, ordered_at=now - timedelta(hours=1), first_import="i",
                          last_import="i", updated_at=now))  # fmt: skip
        other = await create_campaign(session, broadcast(clock, name="另一个"), clock)
    async with sessions() as session:
        rows = await campaign_rows(session, now)
        assert [r.campaign.id for r in rows] == [other.id, c.id]
        row = rows[1]
        assert (row.recipients, row.sent, row.pending) == (5, 3, 1)
        assert row.funnel == {"reached": 3, "replied": 1, "ordered": 1}
        assert row.next_due == step.due_at
        assert rows[0].recipients == 0
        assert [r.campaign.id for r in await campaign_rows(session, now, status="done")] == []
        page = await recipient_page(session, c.id, limit=2)
        assert [r.outcome for r in page] == ["sent", "sent"]
        rest = await recipient_page(session, c.id, after_id=page[-1].id, limit=10)
        assert [r.outcome for r in rest] == ["sent", "skipped", "pending"]  # sending is pending
        skipped = await recipient_page(session, c.id, outcome="skipped")
        assert [(r.reason, r.buyer_id) for r in skipped] == [("cap_day", buyers[3].id)]
        assert len(await recipient_page(session, c.id, outcome="pending")) == 1


async def test_summary_counts_opt_outs_caps_and_unreachable(sessions, clock):
    now = clock.now()
    async with sessions() as session, session.begin():
        fresh = await _buyers(session, clock, 1, tier_key="gold", last_interaction_at=now)
        await _buyers(session, clock, 3, tier_key="silver")  # dormant: outside the window
        await _buyers(session, clock, 1, tier_key="none", opted_out=True)
        earlier = await create_campaign(session, broadcast(clock, name="早先"), clock)
        step = (await list_steps(session, earlier.id))[0]
        session.add(Delivery(step_id=step.id, campaign_id=earlier.id, buyer_id=fresh[0].id,
                             openid=fresh[0].openid, status=SENT, created_at=now,
                             sent_at=now - timedelta(hours=1)))  # fmt: skip
        c = await create_campaign(session, broadcast(clock), clock)
    async with sessions() as session:
        s = await schedule_summary(session, c, now, CampaignsConfig(cap_per_day=1))
    assert s["reach"] == {"recipients": 4, "customer_service": 1, "mass": 3, "unreachable": 0,
                          "unreachable_by_reason": {}}  # fmt: skip
    assert s["opted_out"] == 1 and s["capped"] == 1 and not s["mostly_unreachable"]
    assert s["warnings"] == []
    # The month's mass sends used up: most of the audience cannot be reached.
    async with sessions() as session, session.begin():
        for buyer in await session.scalars(select(Buyer).where(Buyer.tier_key == "silver")):
            session.add(MassAllowance(buyer_id=buyer.id, month=month_of(now), used=4))
    async with sessions() as session:
        s = await schedule_summary(session, c, now, CampaignsConfig(cap_per_day=1))
    assert s["reach"]["unreachable_by_reason"] == {"mass_quota": 3} and s["mostly_unreachable"]
    assert s["warnings"]


async def test_edit_a_draft_only_and_duplicate_moves_past_times(sessions, clock):
    async with sessions() as session, session.begin():
        c = await create_campaign(session, broadcast(clock), clock)
        await update_draft(session, c.id, broadcast(clock, name="改名", text="新文案"), clock)
        assert spec_of(c)["text"] == "新文案" and c.name == "改名"
        assert len(await list_steps(session, c.id)) == 1
        await schedule_campaign(session, c.id, clock)
        with pytest.raises(CampaignError, match="cannot edit"):
            await update_draft(session, c.id, broadcast(clock), clock)
    clock.advance(days=10)
    async with sessions() as session, session.begin():
        copy = await duplicate_campaign(session, c.id, clock)
        steps = await list_steps(session, copy.id)
    assert copy.status == "draft" and copy.name == "改名（副本）"
    assert clock.now() < steps[0].due_at <= clock.now() + timedelta(days=1, hours=2)


async def test_a_bind_code_works_once_and_only_before_it_expires(sessions, clock):
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", "operator", "correct-horse-9", clock.now())
        code = await new_bind_code(session, user.id, clock.now())
        assert await bind_by_code(session, "LK12", "oX", clock.now()) is None
        assert await bind_by_code(session, f" {code.lower()} ", "oAmy", clock.now()) == user.id
        assert await bind_by_code(session, code, "oOther", clock.now()) is None
        assert (await binding_of(session, user.id)).openid == "oAmy"
        late = await new_bind_code(session, user.id, clock.now())
        assert (
            await bind_by_code(session, late, "oNew", clock.now() + timedelta(minutes=11)) is None
        )
        assert (await binding_of(session, user.id)).openid == "oAmy"
