"""The background refresher: after it runs, the first view past the cache's expiry counts
nothing itself (every row it reads was retaken ahead of time); without it, the view recounts."""

from __future__ import annotations

from datetime import date, timedelta

from dashboard_world import SHANGHAI, World, local
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import parse_config
from bot.count_cache import DashboardRollup
from bot.inbound.events import FOLLOW, BuyerEvent
from bot.models import Buyer
from insights.dashboard import dashboard
from insights.periods import preset
from insights.refresher import AHEAD, refresh_once

CONFIG = parse_config({"wechat": {"appid": "wx", "secret": "s", "token": "t"}}, env={})


async def _world(sessions, clock):
    async with sessions.begin() as session:
        w = World(session)
        a, b = w.buyer(local(2026, 4, 1)), w.buyer(local(2026, 5, 1))
        await w.flush()
        w.event(a, FOLLOW, local(2026, 4, 2))
        w.event(b, FOLLOW, local(2026, 5, 17))
        w.order(a, local(2026, 5, 3), 100)
        w.message(b, local(2026, 5, 17, 9))
        await w.flush()


async def _view(sessions, clock):
    period = preset("30d", clock.now().astimezone(SHANGHAI).date())
    async with sessions.begin() as session:
        return await dashboard(session, period, "day", SHANGHAI, clock, config=CONFIG)


async def _recounted_at(sessions, when) -> int:
    async with sessions() as session:
        rows = await session.scalars(
            select(DashboardRollup).where(DashboardRollup.computed_at == when)
        )
        return len(list(rows))


async def test_view_after_expiry_is_served_from_counts_the_refresher_retook(sessions):
    clock = FakeClock(local(2026, 5, 18, 10))
    await _world(sessions, clock)
    first = await _view(sessions, clock)
    clock.advance(minutes=7)  # within AHEAD of the 10 minutes: the refresher retakes them
    assert timedelta(minutes=10) - timedelta(minutes=7) < AHEAD
    await refresh_once(sessions, CONFIG, clock)
    clock.advance(minutes=4)  # 11 minutes after the first view: its counts have expired
    again = await _view(sessions, clock)
    assert await _recounted_at(sessions, clock.now()) == 0  # the viewer counted nothing
    assert again["kpis"] == first["kpis"]


async def test_without_the_refresher_the_first_view_after_expiry_recounts(sessions):
    clock = FakeClock(local(2026, 5, 18, 10))
    await _world(sessions, clock)
    await _view(sessions, clock)
    clock.advance(minutes=11)
    await _view(sessions, clock)
    assert await _recounted_at(sessions, clock.now()) > 0


async def test_refreshed_counts_include_what_happened_since(sessions):
    clock = FakeClock(local(2026, 5, 18, 10))
    await _world(sessions, clock)
    await refresh_once(sessions, CONFIG, clock)
    async with sessions.begin() as session:
        a = await session.scalar(select(Buyer).where(Buyer.openid == "o0001"))
        session.add(BuyerEvent(buyer_id=a.id, kind=FOLLOW, at=local(2026, 5, 18, 10, 3)))
    clock.advance(minutes=6)  # past FRESH - AHEAD: the refresher retakes today's counts
    await refresh_once(sessions, CONFIG, clock)
    clock.advance(seconds=1)
    today = preset("today", date(2026, 5, 18))
    async with sessions.begin() as session:
        data = await dashboard(session, today, "day", SHANGHAI, clock, config=CONFIG)
    assert data["followers"]["series"]["follows"] == [1]
    assert await _recounted_at(sessions, clock.now()) == 0
