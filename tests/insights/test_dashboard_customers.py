"""Customer status, the old-vs-new split and repurchase cohorts, on hand-made orders."""

from __future__ import annotations

from datetime import date

from dashboard_world import SHANGHAI, World, local

from bot.clock import FakeClock
from insights.cohorts import repurchase_cohorts
from insights.drill import FigureRef, figure_buyers
from insights.metrics import customer_status
from insights.periods import DateRange

MAY = DateRange(date(2026, 5, 1), date(2026, 5, 31))


async def _orders(session):
    w = World(session)
    first = w.buyer(local(2026, 4, 1))  # first counted order in May: new
    again = w.buyer(local(2025, 1, 1))  # ordered in March and in May: returning
    refunded = w.buyer(local(2026, 4, 1))  # only a refunded order: still a prospect
    sleeper = w.buyer(local(2025, 1, 1))  # last order 2025-11-15: lapsed by the end of May
    refund_first = w.buyer(local(2025, 1, 1))  # refunded in March, counted in May: new
    await w.flush()
    w.order(first, local(2026, 5, 2, 10), 100)
    w.order(first, local(2026, 5, 20, 10), 50)
    w.order(again, local(2026, 3, 5), 300)
    w.order(again, local(2026, 5, 6), 200)
    w.order(refunded, local(2026, 5, 7), 999, counted=False)
    w.order(sleeper, local(2025, 11, 15), 80)
    w.order(refund_first, local(2026, 3, 9), 70, counted=False)
    w.order(refund_first, local(2026, 5, 9), 70)
    w.order(None, local(2026, 5, 9), 10)  # not linked to a buyer: nobody's
    await w.flush()
    return first, again, refunded, sleeper, refund_first


async def test_new_returning_lapsed_prospects_and_split(sessions):
    clock = FakeClock(local(2026, 6, 2))
    async with sessions.begin() as session:
        first, again, refunded, sleeper, refund_first = await _orders(session)
        got = await customer_status(session, MAY, "month", SHANGHAI, clock, lapsed_months=6)
        assert got.series["new"] == [2]
        assert got.series["returning"] == [1]
        assert got.series["lapsed"] == [1]
        assert got.series["prospects"] == [1]
        assert got.series["orders_new"] == [3]  # first's two and refund_first's one
        assert got.series["orders_old"] == [1]
        assert got.series["spend_new"] == [220.0]
        assert got.series["spend_old"] == [200.0]
        # 较上期 (April): nobody ordered; again had ordered before April, sleeper not yet lapsed.
        assert got.kpis["new"].previous == 0
        assert got.kpis["lapsed"].previous == 0
        # The drill-down lists are the same buyers.
        ids = await figure_buyers(session, FigureRef("new", MAY), SHANGHAI, clock)
        assert sorted(ids.buyer_ids) == sorted([first.id, refund_first.id])
        ids = await figure_buyers(session, FigureRef("lapsed", MAY), SHANGHAI, clock)
        assert ids.buyer_ids == [sleeper.id]
        ids = await figure_buyers(session, FigureRef("prospects", MAY), SHANGHAI, clock)
        assert ids.buyer_ids == [refunded.id]


async def test_a_buyer_new_in_the_month_is_returning_on_a_later_day(sessions):
    clock = FakeClock(local(2026, 6, 2))
    async with sessions.begin() as session:
        await _orders(session)
        days = DateRange(date(2026, 5, 2), date(2026, 5, 20))
        got = await customer_status(session, days, "day", SHANGHAI, clock)
    assert got.series["new"][0] == 1  # 05-02: first's first order
    assert got.series["returning"][-1] == 1  # 05-20: first again
    assert got.kpis["new"].value == 2 and got.kpis["returning"].value == 1


async def test_lapse_months_are_configurable(sessions):
    clock = FakeClock(local(2026, 6, 2))
    async with sessions.begin() as session:
        await _orders(session)
        got = await customer_status(session, MAY, "month", SHANGHAI, clock, lapsed_months=12)
    assert got.series["lapsed"] == [0]


async def test_cohorts_share_of_buyers_ordering_k_months_after_the_first(sessions):
    clock = FakeClock(local(2026, 4, 15))
    async with sessions.begin() as session:
        w = World(session)
        a, b, c = (w.buyer(local(2025, 12, 1)) for _ in range(3))
        await w.flush()
        for buyer in (a, b):
            w.order(buyer, local(2026, 1, 3), 10)
        w.order(a, local(2026, 3, 31, 23, 59), 10)  # M2, still March in Beijing
        w.order(b, local(2026, 2, 10), 10, counted=False)  # a refund is no reorder
        w.order(c, local(2026, 2, 1, 0, 5), 10)  # February cohort
        await w.flush()
        span = DateRange(date(2026, 1, 1), date(2026, 3, 31))
        cohorts = await repurchase_cohorts(session, span, "month", SHANGHAI, clock)
        assert [c.month for c in cohorts] == ["2026-01", "2026-02", "2026-03"]
        jan = cohorts[0]
        assert jan.size == 2
        assert jan.shares[:4] == [1.0, 0.0, 0.5, 0.0]  # April has begun: M3 is 0
        assert jan.shares[4] is None  # May has not
        assert cohorts[1].size == 1 and cohorts[2].size == 0
        did = await figure_buyers(
            session, FigureRef("cohort", span, month=date(2026, 1, 1), k=2), SHANGHAI, clock
        )
        didnt = await figure_buyers(
            session,
            FigureRef("cohort", span, month=date(2026, 1, 1), k=2, reordered=False),
            SHANGHAI,
            clock,
        )
        assert did.buyer_ids == [a.id] and didnt.buyer_ids == [b.id]


async def test_the_running_months_cohort_cell_is_marked_partial(sessions):
    clock = FakeClock(local(2026, 3, 4))  # four days into March
    async with sessions.begin() as session:
        w = World(session)
        a, b = (w.buyer(local(2025, 12, 1)) for _ in range(2))
        await w.flush()
        for buyer in (a, b):
            w.order(buyer, local(2026, 1, 3), 10)
        w.order(a, local(2026, 2, 3), 10)
        await w.flush()
        span = DateRange(date(2026, 1, 1), date(2026, 3, 31))
        jan, feb, mar = await repurchase_cohorts(session, span, "month", SHANGHAI, clock)
    # January's M2 is March, four days old: 0% so far, not a collapse.
    assert jan.shares[:3] == [1.0, 0.5, 0.0] and jan.partial == 2
    assert feb.partial == 1 and mar.partial == 0  # every cohort's cell of March
