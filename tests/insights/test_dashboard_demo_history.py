"""The demo's year of history: fast, repeatable, and it gives every chart something to show."""

from __future__ import annotations

import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.inbound.events import BuyerEvent
from bot.models import Buyer, InboundMessage
from demo.demo import DEMO_TIERS, seed_demo
from insights.dashboard import dashboard
from insights.demo_history import CAMPAIGNS
from insights.periods import DateRange
from members.tiers import TierChange
from scheduler.models import Campaign


async def test_demo_history_fills_every_section(sessions, make_config, clock):
    config = make_config(tiers={"levels": DEMO_TIERS})
    started = time.perf_counter()
    await seed_demo(sessions, config, clock)
    if sessions.kw["bind"].dialect.name == "sqlite":  # the demo's database
        assert time.perf_counter() - started < 15
    tz = ZoneInfo("Asia/Shanghai")
    today = clock.now().astimezone(tz).date()
    year = DateRange(today.replace(day=1) - timedelta(days=334), today)
    year = DateRange(year.start.replace(day=1), today)
    async with sessions.begin() as session:
        data = await dashboard(session, year, "month", tz, clock, config=config)
    f = data["followers"]["series"]
    assert len(f["follows"]) == 12 and all(n > 0 for n in f["follows"])
    assert f["follows"][-2] > f["follows"][0]  # growth: more follows in recent months
    assert sum(f["unfollows"]) > 0
    c = data["customers"]["series"]
    assert sum(c["new"]) > 50 and sum(c["returning"]) > 20
    older = [x for x in data["cohorts"] if x["size"]][0]
    assert 0 < older["shares"][1] < 1  # some of a cohort reorder the next month, not all
    stages = [s["buyers"] for s in data["funnel"]["stages"]]
    assert stages == sorted(stages, reverse=True) and stages[3] > 0
    assert data["funnel"]["stuck_at"] and data["funnel"]["skipped"][0][2] > 0
    assert data["tiers"]["up_total"] > 0 and len(data["tiers"]["distribution"]) > 1
    past = [c for c in data["campaigns"]["campaigns"] if c["name"] in {n for n, *_ in CAMPAIGNS}]
    assert len(past) == 4
    assert all(c["reached"] > c["replied"] > 0 and c["ordered"] > 0 for c in past)
    assert data["kpis"]["active_7"]["value"] > 0


async def test_demo_history_is_seeded_once(sessions, make_config, clock):
    config = make_config(tiers={"levels": DEMO_TIERS})
    await seed_demo(sessions, config, clock)
    async with sessions() as session:
        first = await session.scalar(select(func.count()).select_from(BuyerEvent))
    await seed_demo(sessions, config, clock)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BuyerEvent)) == first


async def test_nothing_in_the_demo_happens_after_now_and_names_fit_their_dates(
    sessions, make_config, clock
):
    config = make_config(tiers={"levels": DEMO_TIERS})
    clock.advance(days=200)  # any day of the year: here early December
    await seed_demo(sessions, config, clock)
    now = clock.now()
    async with sessions() as session:
        latest_event = await session.scalar(select(func.max(BuyerEvent.at)))
        latest_left = await session.scalar(select(func.max(Buyer.unsubscribed_at)))
        latest_message = await session.scalar(select(func.max(InboundMessage.received_at)))
        campaigns = dict((await session.execute(select(Campaign.name, Campaign.finished_at))).all())
        changes = (
            await session.scalars(select(TierChange).order_by(TierChange.buyer_id, TierChange.id))
        ).all()
    assert latest_event <= now and latest_left <= now and latest_message <= now
    tz = ZoneInfo("Asia/Shanghai")
    months = {name: campaigns[name].astimezone(tz).month for name, *_ in CAMPAIGNS}
    assert months["双11 老客召回"] == 11 and months["年货节群发"] == 1
    # A buyer's tier changes happened in the order they follow one another.
    by_buyer: dict[int, list] = {}
    for change in changes:
        by_buyer.setdefault(change.buyer_id, []).append(change)
    for moves in by_buyer.values():
        assert [c.created_at for c in moves] == sorted(c.created_at for c in moves)
        assert all(a.to_key == b.from_key for a, b in zip(moves, moves[1:], strict=False))
