"""Followers per bucket: distinct follows/unfollows, net, total at the bucket's end."""

from __future__ import annotations

from datetime import date

from dashboard_world import SHANGHAI, World, local

from bot.clock import FakeClock
from bot.inbound.events import FOLLOW, UNFOLLOW
from insights.metrics import followers
from insights.periods import DateRange, buckets


async def _history(session):
    w = World(session)
    before = w.buyer(local(2026, 3, 1), subscribed=True)  # followed before Laoke's history
    a = w.buyer(local(2026, 5, 3))
    b = w.buyer(local(2026, 5, 4))
    gone = w.buyer(local(2026, 4, 2), subscribed=False)
    late = w.buyer(local(2026, 5, 31, 12))
    await w.flush()
    w.event(a, FOLLOW, local(2026, 5, 3, 10))
    # b follows, unfollows, follows again: one new follower, one unfollower, net 0 …
    w.event(b, FOLLOW, local(2026, 5, 4, 9))
    w.event(b, UNFOLLOW, local(2026, 5, 10, 9))
    w.event(b, FOLLOW, local(2026, 5, 12, 9))
    w.event(gone, FOLLOW, local(2026, 4, 2))
    w.event(gone, UNFOLLOW, local(2026, 5, 20))
    # 2026-06-01 00:30 in Beijing is still 05-31 in UTC: it belongs to June.
    w.event(late, FOLLOW, local(2026, 6, 1, 0, 30))
    await w.flush()
    return before, a, b, gone, late


async def test_follows_unfollows_net_and_total_by_month(sessions):
    clock = FakeClock(local(2026, 6, 15))
    async with sessions.begin() as session:
        await _history(session)
        may = DateRange(date(2026, 5, 1), date(2026, 5, 31))
        got = await followers(session, may, "month", SHANGHAI, clock)
    assert got.buckets == ["2026-05-01"]
    assert got.series["follows"] == [2]  # a, and b once although b followed twice
    assert got.series["unfollows"] == [2]  # b and gone
    assert got.series["net"] == [0]
    # At the end of May: before (no events, still following), a, b (re-followed); not gone,
    # not late (followed at 00:30 Beijing time on June 1st).
    assert got.series["followers"] == [3]
    assert got.kpis["followers"].value == 3
    # April: gone followed; at the end of April before and gone were following.
    assert got.kpis["follows"].previous == 1
    assert got.kpis["followers"].previous == 2


async def test_beijing_day_boundaries(sessions):
    clock = FakeClock(local(2026, 6, 15))
    async with sessions.begin() as session:
        await _history(session)
        days = DateRange(date(2026, 5, 31), date(2026, 6, 1))
        got = await followers(session, days, "day", SHANGHAI, clock)
    assert got.buckets == ["2026-05-31", "2026-06-01"]
    assert got.series["follows"] == [0, 1]


async def test_running_bucket_counts_followers_now_and_future_buckets_are_empty(sessions):
    clock = FakeClock(local(2026, 5, 12, 12))
    async with sessions.begin() as session:
        await _history(session)
        days = DateRange(date(2026, 5, 12), date(2026, 5, 13))
        got = await followers(session, days, "day", SHANGHAI, clock)
    assert got.series["follows"] == [1, None]
    assert got.series["followers"][1] is None


def test_weeks_start_on_monday_in_beijing():
    spans = buckets(DateRange(date(2026, 5, 13), date(2026, 5, 31)), "week", SHANGHAI)
    # The first week is labelled with the period's first day, not the Monday before it.
    assert [b.key() for b in spans] == ["2026-05-13", "2026-05-18", "2026-05-25"]
    assert spans[0].lo == local(2026, 5, 13)  # cut to the period's first day
    assert spans[1].lo == local(2026, 5, 18)
    assert spans[1].lo.hour == 16  # Monday 00:00 in Beijing is Sunday 16:00 UTC
    assert spans[-1].hi == local(2026, 6, 1)
