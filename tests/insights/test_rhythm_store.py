"""Each buyer's rhythm written onto their row (on SQLite and PostgreSQL): state, cycle, the
expected date and what they bought last; a second refresh writes nothing; a new order puts
the buyer back on rhythm."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.config import parse_config
from bot.models import Buyer
from insights.rhythm_store import refresh_rhythm
from members.order_lines import OrderLine
from members.orders import Order

CONFIG = parse_config({"wechat": {"appid": "wx0", "secret": "s", "token": "t"}}, env={})
NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def add_orders(sessions, buyer_id: int, days_ago: list[int], prefix: str) -> None:
    async with sessions() as session, session.begin():
        for k, ago in enumerate(days_ago):
            order = Order(
                order_no=f"{prefix}{k}", amount_cents=10_000, ordered_at=NOW - timedelta(days=ago),
                status="交易成功", counted=True, buyer_id=buyer_id, first_import="t",
                last_import="t", updated_at=NOW,
            )  # fmt: skip
            session.add(order)
            await session.flush()
            session.add(OrderLine(order_id=order.id, line_no=1, title=f"货{k}", sku=None,
                                  quantity=1, refund_cents=0))  # fmt: skip


async def test_rhythms_are_written_once_and_follow_new_orders(sessions):
    async with sessions() as session, session.begin():
        ten = Buyer(openid="o-10", first_seen_at=NOW, orders_total=4)
        sixty = Buyer(openid="o-60", first_seen_at=NOW, orders_total=3)
        session.add_all([ten, sixty])
        await session.flush()
        ids = ten.id, sixty.id
    await add_orders(sessions, ids[0], [42, 32, 22, 12], "T")  # every 10 days, 12 days ago
    await add_orders(sessions, ids[1], [150, 90, 30], "S")  # every 60 days, 30 days ago
    async with sessions() as session, session.begin():
        assert await refresh_rhythm(session, NOW, CONFIG) == 2
    async with sessions() as session:
        ten, sixty = [await session.get(Buyer, i) for i in ids]
    assert (ten.reorder_state, ten.cycle_days, ten.days_overdue) == ("due", 10, 2)
    assert ten.next_order_on == date(2026, 5, 16) and ten.last_bought == "货3"
    assert (sixty.reorder_state, sixty.cycle_days, sixty.days_overdue) == ("on_rhythm", 60, 0)
    async with sessions() as session, session.begin():
        assert await refresh_rhythm(session, NOW, CONFIG) == 0  # nothing changed
    await add_orders(sessions, ids[0], [0], "N")
    async with sessions() as session, session.begin():
        await refresh_rhythm(session, NOW + timedelta(hours=1), CONFIG)
    async with sessions() as session:
        ten = await session.get(Buyer, ids[0])
    assert ten.reorder_state == "on_rhythm" and ten.days_overdue == 0


async def test_a_buyer_whose_orders_are_gone_is_cleared(sessions):
    async with sessions() as session, session.begin():
        buyer = Buyer(openid="o-x", first_seen_at=NOW, orders_total=1)
        session.add(buyer)
        await session.flush()
        buyer_id = buyer.id
    await add_orders(sessions, buyer_id, [5], "X")
    async with sessions() as session, session.begin():
        await refresh_rhythm(session, NOW, CONFIG)
        await session.execute(Order.__table__.update().values(counted=False))
    async with sessions() as session, session.begin():
        await refresh_rhythm(session, NOW, CONFIG)
    async with sessions() as session:
        state = await session.scalar(select(Buyer.reorder_state).where(Buyer.id == buyer_id))
    assert state is None
