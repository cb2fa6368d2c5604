"""该补货了: the buyers now due (or overdue) to reorder, and the value at stake.

The value at stake of a buyer is their typical order: spend over orders in the tier window
(``buyers.spend_12m / orders_12m``), in whole cents; the list's total is the sum over every
due buyer, the list itself the most valuable first. It reads the figures
``insights/rhythm_store.py`` keeps on the buyer rows and decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import REORDER_DUE, REORDER_OVERDUE, Buyer

SHOWN = 10


@dataclass(frozen=True)
class DueBuyer:
    id: int
    name: str
    state: str
    days_overdue: int
    cycle_days: int
    next_order_on: date | None
    last_bought: str
    value_cents: int


@dataclass(frozen=True)
class DueList:
    buyers: list[DueBuyer]
    count: int
    value_cents: int


def _typical_order_cents(spend: float | None, orders: int | None) -> int:
    if not orders or not spend:
        return 0
    cents = Decimal(str(spend)) * 100 / orders
    return int(cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def reorder_due(session: AsyncSession, *, shown: int = SHOWN) -> DueList:
    """The buyers due or overdue to reorder: the `shown` most valuable, the count, the total."""
    due = Buyer.reorder_state.in_((REORDER_DUE, REORDER_OVERDUE))
    total_cents, count = 0, 0
    for spend, orders in await session.execute(
        select(Buyer.spend_12m, Buyer.orders_12m).where(due)
    ):
        total_cents += _typical_order_cents(spend, orders)
        count += 1
    typical = Buyer.spend_12m / func.nullif(Buyer.orders_12m, 0)
    rows = await session.execute(
        select(Buyer)
        .where(due)
        .order_by(func.coalesce(typical, 0).desc(), Buyer.days_overdue.desc(), Buyer.id)
        .limit(shown)
    )
    buyers = [
        DueBuyer(
            b.id,
            b.display_name or b.company or "未留称呼",
            b.reorder_state or "",
            b.days_overdue or 0,
            b.cycle_days or 0,
            b.next_order_on,
            b.last_bought or "",
            _typical_order_cents(b.spend_12m, b.orders_12m),
        )  # fmt: skip
        for b in rows.scalars()
    ]
    return DueList(buyers, count, total_cents)
