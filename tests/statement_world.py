"""Buyers and orders written straight into the database, for the statement tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Buyer
from members.orders import Order

BEIJING_NOV = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)  # 12:00 on 10 Nov in Beijing


async def add_buyer(sessions, openid: str, **fields) -> int:
    async with sessions() as session:
        buyer = Buyer(openid=openid, first_seen_at=datetime(2026, 1, 1, tzinfo=UTC), **fields)
        session.add(buyer)
        await session.commit()
        return buyer.id


async def add_order(
    sessions, no: str, buyer_id: int | None, cents: int, at: datetime, *, status: str = "交易成功",
    counted: bool = True,
) -> int:  # fmt: skip
    async with sessions() as session:
        order = Order(
            order_no=no, account=None, phone=None, amount_cents=cents, ordered_at=at,
            status=status, counted=counted, buyer_id=buyer_id, first_import="t",
            last_import="t", updated_at=at,
        )  # fmt: skip
        session.add(order)
        await session.commit()
        return order.id


async def update_order(sessions, order_id: int, **fields) -> None:
    async with sessions() as session:
        order = await session.get(Order, order_id)
        for name, value in fields.items():
            setattr(order, name, value)
        await session.commit()
