"""Orders: the table behind tiers, matching orders to buyers, and each buyer's order figures.

An order arrives from a platform export (``members/order_import.py``) with the buyer's account
name on the platform and sometimes a phone number; it is linked to a buyer when a buyer's
business card carries the same account name or phone. Unmatched orders are kept and linked
later (when the card is confirmed, and at every recompute).

The figures segments filter on (``buyers.orders_12m``, ``spend_12m``, ``orders_total``) are
denormalised onto the buyer row by one set-based UPDATE per recompute, so a segment over a
million buyers never joins orders. ``*_12m`` hold the trailing window of ``[tiers]
window_months`` (12 by default). Money is stored in integer cents (exact sums).

This module does not parse files and does not decide tiers (``members/tiers.py`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.count_cache import invalidate_from
from bot.models import Base, Buyer


class Order(Base):
    """One platform order, unique by its order number; re-imports update it in place."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    account: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    ordered_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32), default="")
    # False for cancelled, refunded and unpaid orders: they never count towards a tier.
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    buyer_id: Mapped[int | None] = mapped_column(
        ForeignKey("buyers.id", ondelete="SET NULL"), default=None
    )
    # The shipment, when the export carries it (kept when a later export leaves it out).
    waybill_no: Mapped[str | None] = mapped_column(String(64), default=None)
    carrier: Mapped[str | None] = mapped_column(String(32), default=None)
    # The import that created the row and the last one that changed it (import statistics).
    first_import: Mapped[str] = mapped_column(String(16))
    last_import: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]

    __table_args__ = (
        # Only unmatched orders are looked up by name or phone (to link them to a buyer who
        # just gave theirs), so only they are indexed: an import of orders whose buyers
        # are known maintains neither index.
        Index(
            "ix_orders_unmatched_account",
            "account",
            sqlite_where=text("buyer_id IS NULL"),
            postgresql_where=text("buyer_id IS NULL"),
        ),
        Index(
            "ix_orders_unmatched_phone",
            "phone",
            sqlite_where=text("buyer_id IS NULL AND phone IS NOT NULL"),
            postgresql_where=text("buyer_id IS NULL AND phone IS NOT NULL"),
        ),
        # Covers the per-buyer aggregate of every recompute without touching the table.
        Index("ix_orders_buyer_figures", "buyer_id", "counted", "ordered_at", "amount_cents"),
        # The dashboard's per-day/week/month counts read a range of time.
        Index("ix_orders_ordered_at", "ordered_at", "counted", "buyer_id", "amount_cents"),
    )


@dataclass(frozen=True)
class Figures:
    """A buyer's order figures: counted orders and spend in the window, and all-time orders."""

    orders_window: int = 0
    spend_window: float = 0.0
    orders_total: int = 0


async def buyer_keys(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Platform account name → buyer id and phone → buyer id, for every buyer with a card.

    When two buyers claim the same name or phone, the one who came first wins.
    """
    by_account: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    rows = await session.execute(
        select(Buyer.id, Buyer.platform_account, Buyer.phone)
        .where((Buyer.platform_account.is_not(None)) | (Buyer.phone.is_not(None)))
        .order_by(Buyer.id.desc())
    )
    for buyer_id, account, phone in rows:
        if account:
            by_account[account.strip()] = buyer_id
        if phone:
            by_phone[phone] = buyer_id
    return by_account, by_phone


async def link_orders_for_buyer(session: AsyncSession, buyer: Buyer) -> int:
    """Link the unmatched orders carrying this buyer's platform account name or phone.

    Orders already linked to someone else are left alone. Refreshing the buyer's tier
    afterwards is ``members.tier_refresh.match_orders_for_buyer``'s part.
    Returns the number of orders linked.
    """
    keys = []
    if buyer.platform_account:
        keys.append(Order.account == buyer.platform_account.strip())
    if buyer.phone:
        keys.append(Order.phone == buyer.phone)
    if not keys or buyer.id is None:
        return 0
    result = await session.execute(
        update(Order)
        .where(Order.buyer_id.is_(None), or_(*keys))
        .values(buyer_id=buyer.id)
        .execution_options(synchronize_session=False)
    )
    linked = max(result.rowcount or 0, 0)
    if linked:
        await _orders_relinked(
            session, select(func.min(Order.ordered_at)).where(Order.buyer_id == buyer.id)
        )
    return linked


async def match_unmatched_orders(session: AsyncSession) -> int:
    """Link every unmatched order whose account name or phone is on some buyer's card.

    Set-based: one UPDATE per key. The ``IN (SELECT …)`` test is evaluated once as a set,
    so orders whose names no buyer has (the usual case at night) cost a lookup, not a
    write. When two buyers claim the same name, the one who came first wins.
    """
    linked = 0
    for order_col, buyer_col in (
        (Order.account, Buyer.platform_account),
        (Order.phone, Buyer.phone),
    ):
        owner = select(func.min(Buyer.id)).where(buyer_col == order_col).scalar_subquery()
        claimed = select(buyer_col).where(buyer_col.is_not(None))
        await _orders_relinked(
            session,
            select(func.min(Order.ordered_at)).where(
                Order.buyer_id.is_(None), order_col.in_(claimed)
            ),
        )
        result = await session.execute(
            update(Order)
            .where(Order.buyer_id.is_(None), order_col.in_(claimed))
            .values(buyer_id=owner)
            .execution_options(synchronize_session=False)
        )
        linked += max(result.rowcount or 0, 0)
    return linked


async def _orders_relinked(session: AsyncSession, earliest) -> None:
    """Orders changed hands: the dashboard's counts from the earliest of them on are stale."""
    since = (await session.execute(earliest)).scalar_one()
    if since is not None:
        await invalidate_from(session, since)


def _figures_query(since: datetime, buyer_id: int | None = None):
    in_window = Order.ordered_at >= since
    q = select(
        Order.buyer_id,
        func.sum(case((in_window, 1), else_=0)).label("orders_window"),
        func.sum(case((in_window, Order.amount_cents), else_=0)).label("cents_window"),
        func.count().label("orders_total"),
    ).where(Order.counted.is_(True), Order.buyer_id.is_not(None))
    if buyer_id is not None:
        q = q.where(Order.buyer_id == buyer_id)
    return q.group_by(Order.buyer_id)


async def buyer_figures(session: AsyncSession, buyer_id: int, since: datetime) -> Figures:
    """One buyer's counted orders and spend since `since`, and their counted orders ever."""
    row = (await session.execute(_figures_query(since, buyer_id))).first()
    if row is None:
        return Figures()
    return Figures(
        int(row.orders_window or 0), (row.cents_window or 0) / 100, int(row.orders_total)
    )


async def store_buyer_figures(session: AsyncSession, buyer: Buyer, since: datetime) -> Figures:
    """Recompute one buyer's figures and write them onto the buyer row."""
    figures = await buyer_figures(session, buyer.id, since)
    buyer.orders_12m = figures.orders_window
    buyer.spend_12m = figures.spend_window
    buyer.orders_total = figures.orders_total
    return figures


async def refresh_all_figures(session: AsyncSession, since: datetime) -> int:
    """Rewrite every buyer's order figures from the orders table; returns buyers changed.

    Two set-based statements: buyers with no counted order left are zeroed, the others
    get the aggregate through ``UPDATE … FROM (subquery)``. Only rows whose figures differ
    are written, so a nightly run over unchanged data writes almost nothing.
    """
    agg = _figures_query(since).subquery("agg")
    has_orders = (
        select(Order.buyer_id).where(Order.counted.is_(True), Order.buyer_id == Buyer.id).exists()
    )
    zeroed = await session.execute(
        update(Buyer)
        .where(
            ~has_orders,
            (Buyer.orders_12m != 0) | (Buyer.spend_12m != 0) | (Buyer.orders_total != 0),
        )
        .values(orders_12m=0, spend_12m=0.0, orders_total=0)
        .execution_options(synchronize_session=False)
    )
    spend = agg.c.cents_window / 100.0
    changed = await session.execute(
        update(Buyer)
        .where(
            Buyer.id == agg.c.buyer_id,
            (Buyer.orders_12m != agg.c.orders_window)
            | (Buyer.orders_total != agg.c.orders_total)
            | (func.abs(Buyer.spend_12m - spend) > 0.001),
        )
        .values(orders_12m=agg.c.orders_window, spend_12m=spend, orders_total=agg.c.orders_total)
        .execution_options(synchronize_session=False)
    )
    return max(zeroed.rowcount or 0, 0) + max(changed.rowcount or 0, 0)


async def latest_order(session: AsyncSession, buyer_id: int) -> Order | None:
    """A buyer's most recent order, whatever its status (what "发货了吗" is about)."""
    return await session.scalar(
        select(Order)
        .where(Order.buyer_id == buyer_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(1)
    )
