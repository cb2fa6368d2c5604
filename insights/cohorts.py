"""Repurchase cohorts (复购热力): buyers grouped by the month of their first counted order.

Cell ``M<k>`` of a cohort is the share of its buyers with a counted order in the k-th month
after the first (``M0`` is 100% by definition). Months are local months of the dashboard's
time zone; a cell whose month has not begun is ``None``, and the cell of the running month
is marked ``partial`` (its month has days to come). Counts are cached like every other
(``insights/rollups.py``): a cell depends on orders up to the end of its month.

This module does not draw the heat map; it returns its numbers and the queries behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.models import UTCDateTime
from insights.figures import Params, new_customers
from insights.periods import DateRange, add_months, local_midnight
from insights.rollups import Key, cached
from members.orders import Order

MONTHS = 12  # M0 … M11


@dataclass
class Cohort:
    month: str  # YYYY-MM
    size: int
    # share of the cohort (0-1) with a counted order k months after its first, or None
    shares: list[float | None]
    buyers: list[int | None]  # the same as counts
    # k of the cell whose month is still running (its share is partial and will only grow:
    # a low value there is no collapse), or None when every shown month is over.
    partial: int | None = None


def cohort_months(period: DateRange) -> list[date]:
    """The first days of the months the period touches (at most the last twelve)."""
    first = period.start.replace(day=1)
    months = []
    while first <= period.end:
        months.append(first)
        first = add_months(first, 1)
    return months[-MONTHS:]


def _month(first: date, tz: ZoneInfo):
    return local_midnight(first, tz), local_midnight(add_months(first, 1), tz)


def cohort_buyers(first: date, k: int, tz: ZoneInfo, *, reordered: bool = True) -> Select:
    """Buyers of the cohort starting in month `first` who did (or did not) order in month k."""
    lo, hi = _month(first, tz)
    cohort = new_customers(lo, hi, Params(tz, 6, hi))
    if k == 0:
        return cohort
    m_lo, m_hi = _month(add_months(first, k), tz)
    o = Order
    did = select(o.buyer_id).where(o.counted.is_(True), o.ordered_at >= m_lo, o.ordered_at < m_hi)
    col = cohort.subquery().c.buyer_id
    test = col.in_(did) if reordered else col.not_in(did)
    return select(col.label("buyer_id")).where(test)


async def _month_cells(
    session: AsyncSession, month: date, firsts: list[date], tz: ZoneInfo
) -> dict[date, int]:
    """For the buyers with a counted order in `month`: how many have their first counted
    order in each cohort month of `firsts` (the same buyers :func:`cohort_buyers` lists)."""
    lo, hi = _month(month, tz)
    o, p = Order, aliased(Order)
    active = (
        select(o.buyer_id.label("buyer_id"))
        .where(o.counted.is_(True), o.buyer_id.is_not(None), o.ordered_at >= lo, o.ordered_at < hi)
        .distinct()
        .cte("cohort_active")
        .prefix_with("MATERIALIZED")
    )
    first_order = (
        select(func.min(p.ordered_at))
        .where(p.buyer_id == active.c.buyer_id, p.counted.is_(True))
        .scalar_subquery()
    )
    firsts_cte = (
        select(first_order.label("first"))
        .select_from(active)
        .cte("cohort_firsts")
        .prefix_with("MATERIALIZED")
    )
    ranges = union_all(
        *(
            select(
                literal(i).label("idx"),
                literal(_month(f, tz)[0], UTCDateTime()).label("lo"),
                literal(_month(f, tz)[1], UTCDateTime()).label("hi"),
            )
            for i, f in enumerate(firsts)
        )
    ).subquery("cohort_ranges")
    rows = await session.execute(
        select(ranges.c.idx, func.count())
        .select_from(ranges)
        .join(
            firsts_cte,
            and_(firsts_cte.c.first >= ranges.c.lo, firsts_cte.c.first < ranges.c.hi),
        )
        .group_by(ranges.c.idx)
    )
    return {firsts[idx]: int(n) for idx, n in rows}


async def repurchase_cohorts(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> list[Cohort]:
    """One cohort per month of the period (granularity is ignored: cohorts are monthly)."""
    now = clock.now()
    months = cohort_months(period)
    plan: dict[Key, tuple[date, int]] = {}
    for first in months:
        lo, _ = _month(first, timezone)
        if lo >= now:
            continue
        for k in range(MONTHS):
            m_lo, m_hi = _month(add_months(first, k), timezone)
            if m_lo >= now:
                break
            plan[(f"cohort:m{k}", lo, m_hi)] = (first, k)

    async def compute(missing):
        # Cells are counted per calendar month: one pass over that month's buyers gives the
        # cell of every cohort whose k-th month it is (the running month: one pass, not 12).
        by_month: dict[date, list[date]] = {}
        for key in missing:
            first, k = plan[key]
            by_month.setdefault(add_months(first, k), []).append(first)
        out = {}
        for month, firsts in by_month.items():
            counts = await _month_cells(session, month, firsts, timezone)
            for first in firsts:
                k = (month.year - first.year) * 12 + month.month - first.month
                out[(f"cohort:m{k}", _month(first, timezone)[0], _month(month, timezone)[1])] = (
                    float(counts.get(first, 0))
                )
        return out

    values = await cached(session, list(plan), compute, now)
    by_cell = {cell: values[key] for key, cell in plan.items()}
    cohorts = []
    for first in months:
        size = by_cell.get((first, 0))
        counts = [by_cell.get((first, k)) for k in range(MONTHS)]
        shares = [None if c is None else (round(c / size, 4) if size else 0.0) for c in counts]
        running = [
            k
            for k in range(MONTHS)
            if counts[k] is not None and now < _month(add_months(first, k), timezone)[1]
        ]
        cohorts.append(
            Cohort(
                first.strftime("%Y-%m"),
                int(size or 0),
                shares,
                [None if c is None else int(c) for c in counts],
                running[0] if running else None,
            )
        )
    return cohorts
