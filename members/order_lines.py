"""Line items of orders: what a buyer bought, as the platform export lists it.

An export with line columns (货品标题/宝贝标题, 规格/SKU, 数量, 单价, 退款金额) has one row per
line; ``members/order_import.py`` stores each row as an ``OrderLine`` numbered within its
order (``line_no`` from 1), replacing the order's lines when the order is imported again.
This module reads them back for people: what a buyer buys most, and what they bought last.

It does not decide tiers or statements (they read ``orders`` and, for refunds, these lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base
from members.orders import Order

TOP_ITEMS = 5


class OrderLine(Base):
    """One line of an order: a product (title and/or SKU), how many, at what price."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("orders.id", ondelete="CASCADE")
    )
    line_no: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(128))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    refund_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line"),)


@dataclass(frozen=True)
class Item:
    """A product as a buyer's history shows it: its name, and how many over how many orders."""

    title: str | None
    sku: str | None
    quantity: int
    orders: int

    @property
    def label(self) -> str:
        """ "货品标题（规格）", or whichever of the two the export had."""
        if self.title and self.sku:
            return f"{self.title}（{self.sku}）"
        return self.title or self.sku or ""


@dataclass(frozen=True)
class Purchases:
    """What a buyer buys most (by quantity, counted orders) and the lines of their last order."""

    top: list[Item]
    last: list[Item]
    last_at: datetime | None

    @property
    def empty(self) -> bool:
        return not self.top and not self.last


async def buyer_purchases(
    session: AsyncSession, buyer_id: int, *, top: int = TOP_ITEMS
) -> Purchases:
    """The products a buyer bought most and those of their latest order that has lines."""
    counted = (Order.buyer_id == buyer_id, Order.counted.is_(True))
    top_items: list[Item] = []
    if top > 0:
        most = await session.execute(
            select(
                OrderLine.title,
                OrderLine.sku,
                func.sum(OrderLine.quantity).label("qty"),
                func.count(func.distinct(OrderLine.order_id)).label("orders"),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(*counted)
            .group_by(OrderLine.title, OrderLine.sku)
            .order_by(func.sum(OrderLine.quantity).desc(), OrderLine.title, OrderLine.sku)
            .limit(top)
        )
        top_items = [Item(r.title, r.sku, int(r.qty or 0), int(r.orders)) for r in most]
    latest = (
        await session.execute(
            select(Order.id, Order.ordered_at)
            .where(*counted, select(OrderLine.id).where(OrderLine.order_id == Order.id).exists())
            .order_by(Order.ordered_at.desc(), Order.id.desc())
            .limit(1)
        )
    ).first()
    if latest is None:
        return Purchases(top_items, [], None)
    return Purchases(top_items, await order_items(session, latest.id), latest.ordered_at)


async def order_items(session: AsyncSession, order_id: int) -> list[Item]:
    """The lines of one order, in the export's order."""
    lines = await session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
    )
    return [Item(line.title, line.sku, line.quantity, 1) for line in lines]


async def last_order_items(session: AsyncSession, buyer_id: int, *, limit: int = 3) -> list[str]:
    """The labels of the lines of a buyer's latest order with lines (for a message)."""
    purchases = await buyer_purchases(session, buyer_id, top=0)
    return [item.label for item in purchases.last[:limit]]
