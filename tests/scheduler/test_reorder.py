"""The standing 补货提醒 campaign, day by day: a buyer whose rhythm is 10 days gets one reminder
on day 10 naming what they bought last, none again until they order, then one a cycle later;
a buyer whose rhythm is 60 days gets none on day 30; opted-out buyers get none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from campaign_harness import Harness, config_for
from sqlalchemy import select, update

from bot.models import Buyer
from insights.rhythm_store import refresh_rhythm
from members.order_lines import OrderLine
from members.orders import Order
from scheduler.campaigns import cancel_campaign


@pytest.fixture
async def h(make_config, fake_wechat, clock):
    async with Harness(config_for(make_config, fake_wechat), clock, fake_wechat) as harness:
        yield harness


async def order(h, openid: str, days_ago: int, title: str = "纯棉T恤") -> None:
    now = h.clock.now()
    async with h.sm() as session, session.begin():
        buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
        row = Order(
            order_no=f"{openid}-{now.isoformat()}-{days_ago}", amount_cents=50_000,
            ordered_at=now - timedelta(days=days_ago), status="交易成功", counted=True,
            buyer_id=buyer_id, first_import="t", last_import="t", updated_at=now,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        session.add(OrderLine(order_id=row.id, line_no=1, title=title, sku="白色 均码",
                              quantity=20, refund_cents=0))  # fmt: skip


async def next_day(h) -> dict[str, list[str]]:
    """One day later at 10:00 (the send time): the rhythm refreshed, the day's step run.
    Returns the messages each buyer got that day."""
    before = len(h.sent_log())
    h.clock.advance(days=1)
    now = h.clock.now()
    async with h.sm() as session, session.begin():
        # The buyers keep chatting: the 48-hour window stays open.
        await session.execute(update(Buyer).values(last_interaction_at=now))
        for openid in await session.scalars(select(Buyer.openid)):
            h.fake.open_window(openid, now)
        await refresh_rhythm(session, now, h.config)
    await h.tick()
    await h.drain()
    await h.tick()
    got: dict[str, list[str]] = {}
    for m in h.sent_log()[before:]:
        got.setdefault(m["openid"], []).append(m.get("content", ""))
    return got


async def test_reminders_follow_each_buyers_rhythm_once_per_cycle(h, clock):
    await h.add_buyers(1, prefix="ten")
    await h.add_buyers(1, prefix="sixty")
    await h.add_buyers(1, prefix="quiet", opted_out=True)
    for k in range(4):
        await order(h, "ten0", 10 * k, title="春季新款纯棉T恤")
        await order(h, "sixty0", 60 * k)
        await order(h, "quiet0", 10 * k)
    cid = await h.campaign({"kind": "reorder", "name": "补货提醒", "send_time": "10:00"})
    days: dict[str, list[int]] = {}
    texts: list[str] = []
    for day in range(1, 36):
        for openid, got in (await next_day(h)).items():
            days.setdefault(openid, []).append(day)
            texts += got
        if day == 13:  # ten0 reorders three days after the reminder
            await order(h, "ten0", 0, title="帆布托特包")
    assert days == {"ten0": [10, 23]}  # the 60-day buyer is not due on day 30
    assert "补货" in texts[0] and "春季新款纯棉T恤（白色 均码）" in texts[0]
    assert "帆布托特包" in texts[1]  # what they bought last, this cycle
    async with h.sm() as session, session.begin():
        await cancel_campaign(session, cid, clock)
    assert (await h.get(cid)).status == "cancelled"


async def test_the_preview_counts_only_buyers_due_and_not_yet_reminded(h, clock):
    from scheduler.campaigns import get_campaign
    from scheduler.previews import campaign_reach

    now = clock.now()
    rhythm = {"last_order_at": now - timedelta(days=12), "cycle_days": 10}
    await h.add_buyers(2, prefix="due", reorder_state="due", **rhythm)
    told = now - timedelta(days=12)  # reminded for their current last order already
    await h.add_buyers(1, prefix="told", reorder_state="due", reorder_reminded_for=told, **rhythm)
    await h.add_buyers(1, prefix="fine", reorder_state="on_rhythm", **rhythm)
    cid = await h.campaign({"kind": "reorder", "name": "补货提醒"})
    async with h.sm() as session:
        reach = await campaign_reach(session, await get_campaign(session, cid), now)
    assert reach["recipients"] == 2
