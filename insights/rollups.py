"""The dashboard's cache of counts: one row per figure and interval, kept current by imports.

A live count over a million buyers and five million orders takes seconds per bucket (see
docs/dashboard.md); a year of buckets takes minutes. So every count the dashboard shows is
read through this table: a row whose interval is over (``hi`` passed by more than
``SETTLE``) is *final* and served until invalidated; a row for an interval still running is
served for ``FRESH`` (10 minutes; an hour for intervals longer than a month), then recounted.

What a count depends on lies before its ``hi`` (a campaign's conversion stores ``hi`` plus its
7 days), so data dated `d` can only change rows with ``hi > d``: an order import deletes
exactly those (:func:`invalidate_from`, called with the import's earliest order). The webhook
writes only "now", which final rows never cover, so it writes nothing here. Erasing a buyer's
data, or relinking old orders, calls :func:`invalidate_from` with the oldest date involved.

This module stores numbers; what they mean is ``insights/figures.py``'s business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.count_cache import ROLLUPS

SETTLE = timedelta(hours=1)  # late messages (the spool) land within this after their time
FRESH = timedelta(minutes=10)
# A running count over more than a month (a year's KPI, a cohort row) moves little in an hour.
LONG = timedelta(days=31)
LONG_FRESH = timedelta(hours=1)

# While set (``refreshing_ahead``), rows this close to expiring count as expired already:
# the background refresher (``insights/refresher.py``) retakes them before a viewer must.
_AHEAD: ContextVar[timedelta] = ContextVar("rollups_ahead", default=timedelta(0))

Key = tuple[str, datetime, datetime]  # (metric, lo, hi)
Compute = Callable[[Sequence[Key]], Awaitable[dict[Key, float | None]]]


@contextlib.contextmanager
def refreshing_ahead(margin: timedelta) -> Iterator[None]:
    """Inside this block, running counts expire `margin` early (they are retaken and stored)."""
    token = _AHEAD.set(margin)
    try:
        yield
    finally:
        _AHEAD.reset(token)


async def cached(
    session: AsyncSession, keys: Sequence[Key], compute: Compute, now: datetime
) -> dict[Key, float | None]:
    """The value of every key: from the cache when final or fresh, else computed and stored."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    found: dict[Key, float | None] = {}
    metrics = sorted({k[0] for k in wanted})
    lo_min = min(k[1] for k in wanted)
    hi_max = max(k[2] for k in wanted)
    rows = await session.execute(
        select(ROLLUPS).where(
            ROLLUPS.c.metric.in_(metrics), ROLLUPS.c.lo >= lo_min, ROLLUPS.c.hi <= hi_max
        )
    )
    want = set(wanted)
    for row in rows:
        key = (row.metric, row.lo, row.hi)
        fresh = (LONG_FRESH if row.hi - row.lo > LONG else FRESH) - _AHEAD.get()
        if key in want and (row.final or now - row.computed_at < fresh):
            found[key] = row.value
    missing = [k for k in wanted if k not in found]
    if missing:
        values = await compute(missing)
        await _store(session, values, now)
        found.update(values)
    return {k: found.get(k) for k in wanted}


async def _store(session: AsyncSession, values: dict[Key, float | None], now: datetime) -> None:
    if not values:
        return
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {
            "metric": m,
            "lo": lo,
            "hi": hi,
            "value": v,
            "final": now >= hi + SETTLE,
            "computed_at": now,
        }
        for (m, lo, hi), v in values.items()
    ]
    stmt = insert(ROLLUPS)
    stmt = stmt.on_conflict_do_update(
        index_elements=["metric", "lo", "hi"],
        set_={c: stmt.excluded[c] for c in ("value", "final", "computed_at")},
    )
    for start in range(0, len(rows), 500):
        await session.execute(stmt, rows[start : start + 500])
