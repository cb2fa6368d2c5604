"""What a period's statement lines are, computed from the orders as they are now.

For a period ``[start, end)``: every counted order of a buyer is an order line; an order
refunded in full (its status names a refund, so it no longer counts) is an order line and
a refund line that cancels it; cancelled and unpaid orders are left out. Where orders carry
line items (``order_lines``, when the import stores them), refunds on the lines of a counted
order are a refund line too, and lines whose SKU the ladder excludes are summed apart so
they earn no rebate. Orders dated in an
earlier, already closed period are compared with what the closed statements recorded for
them, per order and buyer: a difference is an adjustment line of this period (a refund
after the close subtracts, an order imported late adds, an order relinked to another buyer
moves from one to the other). So a closed statement never changes and nothing is counted
twice or lost.

The same computation serves the close, the running figures of the open period (the chat's
这个月拿了多少货) and the ladder's preview. This module writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Base
from members.orders import Order
from statements.models import ADJUSTMENT, ORDER, REFUND, Statement, StatementLine
from statements.periods import Period, period_of

# An order that no longer counts because of these words in its status was refunded (the
# others that do not count were cancelled or never paid: they are no part of a statement).
REFUND_WORDS = ("退款", "refund")


@dataclass(frozen=True)
class Line:
    kind: str
    order_id: int | None
    order_no: str
    ordered_at: datetime
    amount_cents: int
    note: str = ""


@dataclass
class Draft:
    """A buyer's statement of a period before (or without) being stored."""

    buyer_id: int
    lines: list[Line] = field(default_factory=list)
    # Spend on SKUs the ladder excludes (net of their refunds): no rebate is earned on it.
    excluded_cents: int = 0

    @property
    def orders(self) -> int:
        return sum(1 for line in self.lines if line.kind == ORDER)

    def _sum(self, kind: str) -> int:
        return sum(line.amount_cents for line in self.lines if line.kind == kind)

    @property
    def order_cents(self) -> int:
        return self._sum(ORDER)

    @property
    def refund_cents(self) -> int:
        return self._sum(REFUND)

    @property
    def adjustment_cents(self) -> int:
        return self._sum(ADJUSTMENT)

    @property
    def net_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def rebate_base_cents(self) -> int:
        """What the rebate is computed on: net spend less the excluded SKUs."""
        return self.net_cents - self.excluded_cents


def is_refund(status: str | None) -> bool:
    folded = (status or "").lower()
    return any(word in folded for word in REFUND_WORDS)


def order_lines_table():
    """The order line items table once the order import stores them (None before): partial
    refunds and SKU exclusions read it when it is there."""
    return Base.metadata.tables.get("order_lines")


async def _line_sums(
    session: AsyncSession, since: datetime, until: datetime, buyer_id: int | None,
    exclude_skus: tuple[str, ...],
) -> dict[int, tuple[int, int]]:  # fmt: skip
    """Per order dated in ``[since, until)``: (cents refunded on its lines, cents of its lines
    with an excluded SKU, net of their refunds). Empty without line items."""
    table = order_lines_table()
    if table is None:
        return {}
    c = table.c
    value = func.coalesce(c.quantity * c.unit_price_cents, 0) - c.refund_cents
    excluded = case((c.sku.in_(exclude_skus), value), else_=0) if exclude_skus else literal(0)
    q = (
        select(c.order_id, func.sum(c.refund_cents), func.sum(excluded))
        .join(Order, Order.id == c.order_id)
        .where(Order.buyer_id.is_not(None), Order.ordered_at >= since, Order.ordered_at < until)
        .group_by(c.order_id)
    )
    if buyer_id is not None:
        q = q.where(Order.buyer_id == buyer_id)
    return {oid: (int(r or 0), int(x or 0)) for oid, r, x in await session.execute(q)}


async def _period_lines(
    session: AsyncSession, period: Period, buyer_id: int | None, exclude_skus: tuple[str, ...]
) -> tuple[dict[int, list[Line]], dict[int, int]]:
    q = select(
        Order.id, Order.buyer_id, Order.order_no, Order.ordered_at, Order.amount_cents,
        Order.counted, Order.status,
    ).where(
        Order.buyer_id.is_not(None),
        Order.ordered_at >= period.starts_at,
        Order.ordered_at < period.ends_at,
    )  # fmt: skip
    if buyer_id is not None:
        q = q.where(Order.buyer_id == buyer_id)
    sums = await _line_sums(session, period.starts_at, period.ends_at, buyer_id, exclude_skus)
    lines: dict[int, list[Line]] = defaultdict(list)
    excluded: dict[int, int] = defaultdict(int)
    rows = await session.execute(q.order_by(Order.ordered_at, Order.id))
    for oid, bid, no, at, cents, counted, status in rows:
        refunded, off = sums.get(oid, (0, 0))
        if counted:
            lines[bid].append(Line(ORDER, oid, no, at, cents))
            if refunded > 0:
                lines[bid].append(Line(REFUND, oid, no, at, -min(refunded, cents), "部分退款"))
            excluded[bid] += off
        elif is_refund(status):
            lines[bid].append(Line(ORDER, oid, no, at, cents))
            lines[bid].append(Line(REFUND, oid, no, at, -cents, "整单退款"))
    return lines, excluded


async def _adjustment_lines(
    session: AsyncSession, period: Period, since: datetime, buyer_id: int | None
) -> dict[int, list[Line]]:
    """Corrections of orders dated in closed periods (``since`` ≤ ordered_at < this period)."""
    if since >= period.starts_at:
        return {}
    current: dict[tuple[int, int], int] = {}
    info: dict[int, tuple[str, datetime]] = {}
    q = select(
        Order.id, Order.buyer_id, Order.order_no, Order.ordered_at, Order.amount_cents,
        Order.counted,
    ).where(
        Order.buyer_id.is_not(None),
        Order.ordered_at >= since,
        Order.ordered_at < period.starts_at,
    )  # fmt: skip
    if buyer_id is not None:
        q = q.where(Order.buyer_id == buyer_id)
    sums = await _line_sums(session, since, period.starts_at, buyer_id, ())
    for oid, bid, no, at, cents, counted in await session.execute(q):
        refunded = min(sums.get(oid, (0, 0))[0], cents)
        current[(oid, bid)] = cents - refunded if counted else 0
        info[oid] = (no, at)
    recorded: dict[tuple[int, int], int] = {}
    r = (
        select(
            StatementLine.order_id, Statement.buyer_id, func.sum(StatementLine.amount_cents),
            func.min(StatementLine.order_no), func.min(StatementLine.ordered_at),
        )
        .join(Statement, and_(Statement.id == StatementLine.statement_id))
        .where(StatementLine.order_id.is_not(None))
        .group_by(StatementLine.order_id, Statement.buyer_id)
    )  # fmt: skip
    if buyer_id is not None:
        r = r.where(Statement.buyer_id == buyer_id)
    for oid, bid, total, no, at in await session.execute(r):
        recorded[(oid, bid)] = int(total or 0)
        info.setdefault(oid, (no, at))
    lines: dict[int, list[Line]] = defaultdict(list)
    for key in sorted(set(current) | set(recorded)):
        oid, bid = key
        diff = current.get(key, 0) - recorded.get(key, 0)
        if diff == 0:
            continue
        no, at = info[oid]
        origin = period_of(at, period.kind, period.tz).label
        if key not in recorded:
            note = f"补录：{origin}的订单"
        elif diff < 0:
            note = f"{origin}订单退款或取消" if current.get(key, 0) == 0 else f"{origin}订单改价"
        else:
            note = f"{origin}订单更正"
        lines[bid].append(Line(ADJUSTMENT, oid, no, at, diff, note))
    return lines


async def compute_drafts(
    session: AsyncSession, period: Period, since: datetime | None, *,
    buyer_id: int | None = None, exclude_skus: tuple[str, ...] = (),
) -> dict[int, Draft]:  # fmt: skip
    """Every buyer's draft statement of `period` (or one buyer's); `since` is the start of the
    first closed period (None: nothing was closed yet, so nothing to adjust)."""
    drafts: dict[int, Draft] = {}
    own, excluded = await _period_lines(session, period, buyer_id, exclude_skus)
    parts = [own]
    if since is not None:
        parts.insert(0, await _adjustment_lines(session, period, since, buyer_id))
    for part in parts:
        for bid, lines in part.items():
            drafts.setdefault(bid, Draft(bid)).lines.extend(lines)
    for bid, cents in excluded.items():
        drafts[bid].excluded_cents = cents
    return drafts
