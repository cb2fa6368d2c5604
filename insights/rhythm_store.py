"""Writing each buyer's reorder rhythm onto their row, so segments and lists filter on it.

``refresh_rhythm`` reads the counted orders (buyer, day in the export's time zone) and the
buyers' tiers, computes every rhythm with ``insights/rhythm.py`` and writes the changed
figures (``last_order_at``, ``cycle_days``, ``next_order_on``, ``reorder_state``,
``days_overdue``, ``last_bought``) in one bulk UPDATE; buyers whose orders are gone are
cleared. ``rhythm_refresher`` runs it hourly beside the scheduler (``[server]
run_scheduler``), so the states are the day's before the 补货提醒 fan-out (10:00 by default). It reads orders in one pass (a million orders take a few
seconds) and never joins orders into a segment query.

It sends nothing and leaves ``reorder_reminded_for`` to the campaign (``scheduler/loop.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from insights.background import beside_scheduler
from insights.rhythm import Rhythm, rhythms
from members.order_lines import Item, OrderLine
from members.orders import Order

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 500
LAST_ITEMS = 3
EVERY = timedelta(hours=1)


async def _last_bought(session: AsyncSession, order_ids: list[int]) -> dict[int, str]:
    """Order id → "title（SKU）、…" of its first lines, for the orders that have lines."""
    labels: dict[int, list[str]] = {}
    for start in range(0, len(order_ids), LOOKUP_CHUNK):
        chunk = order_ids[start : start + LOOKUP_CHUNK]
        rows = await session.execute(
            select(OrderLine.order_id, OrderLine.title, OrderLine.sku)
            .where(OrderLine.order_id.in_(chunk))
            .order_by(OrderLine.order_id, OrderLine.line_no)
        )
        for order_id, title, sku in rows:
            found = labels.setdefault(order_id, [])
            if len(found) < LAST_ITEMS:
                found.append(Item(title, sku, 0, 0).label)
    return {k: "、".join(v)[:200] for k, v in labels.items()}


def _values(rhythm: Rhythm, last_at: datetime, bought: str | None) -> dict:
    return {
        "last_order_at": last_at,
        "cycle_days": rhythm.cycle_days,
        "next_order_on": rhythm.next_order,
        "reorder_state": rhythm.state,
        "days_overdue": rhythm.days_overdue,
        "last_bought": bought,
    }


async def refresh_rhythm(session: AsyncSession, now: datetime, config: Config) -> int:
    """Recompute every buyer's rhythm as of `now`'s local day; returns buyers changed."""
    zone = ZoneInfo(config.orders.timezone)
    today = now.astimezone(zone).date()
    history: dict[int, list[date]] = {}
    last: dict[int, tuple[int, datetime]] = {}
    rows = await session.execute(
        select(Order.buyer_id, Order.id, Order.ordered_at)
        .where(Order.counted.is_(True), Order.buyer_id.is_not(None), Order.ordered_at <= now)
        .order_by(Order.buyer_id, Order.ordered_at, Order.id)
    )
    for buyer_id, order_id, at in rows:
        history.setdefault(buyer_id, []).append(at.astimezone(zone).date())
        last[buyer_id] = (order_id, at)
    fields = (
        Buyer.id, Buyer.tier_key, Buyer.last_order_at, Buyer.cycle_days, Buyer.next_order_on,
        Buyer.reorder_state, Buyer.days_overdue, Buyer.last_bought,
    )  # fmt: skip
    stored = {
        r.id: r
        for r in await session.execute(
            select(*fields).where(or_(Buyer.orders_total > 0, Buyer.reorder_state.is_not(None)))
        )
    }
    groups = {b: r.tier_key for b, r in stored.items()}
    found = rhythms(history, groups, today, config.rhythm)
    bought = await _last_bought(session, [last[b][0] for b in found])
    changes = []
    for buyer_id, rhythm in found.items():
        values = _values(rhythm, last[buyer_id][1], bought.get(last[buyer_id][0]))
        old = stored.get(buyer_id)
        if old is None or any(getattr(old, k) != v for k, v in values.items()):
            changes.append({"id": buyer_id, **values})
    cleared = dict.fromkeys(
        ("last_order_at", "cycle_days", "next_order_on", "reorder_state", "days_overdue",
         "last_bought"),
    )  # fmt: skip
    for buyer_id, old in stored.items():
        if buyer_id not in found and old.reorder_state is not None:
            changes.append({"id": buyer_id, **cleared})
    if changes:
        await session.execute(update(Buyer), changes)
    return len(changes)


async def refresh_forever(
    sessionmaker: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """refresh_rhythm now and every EVERY until cancelled: a state changes with the day, an
    import changes it at once (a buyer who ordered is back on rhythm within the hour)."""
    while True:
        try:
            async with sessionmaker.begin() as session:
                changed = await refresh_rhythm(session, clock.now(), config)
            log.info("reorder rhythm refreshed: %d buyers changed", changed)
        except Exception:  # a busy database: the next round tries again
            log.warning("reorder rhythm refresh failed", exc_info=True)
        await asyncio.sleep(EVERY.total_seconds())


async def rhythm_refresher(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the refresher runs beside the scheduler while the app runs."""
    config: Config = app[CONFIG]
    async with beside_scheduler(
        app, "rhythm-refresher", lambda: refresh_forever(app[SESSIONMAKER], config, app[CLOCK])
    ):
        yield
