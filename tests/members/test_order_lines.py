"""Line items from platform exports: one row per line grouped by order number, stored per
order, replaced on re-import, and read back as what a buyer buys most and last."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from bot.config import OrdersConfig
from bot.models import Buyer
from members.order_import import import_csv
from members.order_lines import OrderLine, buyer_purchases
from members.orders import Order

NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)

# A 1688 export: the order's columns repeated on each of its lines.
EXPORT_1688 = (
    "订单编号,买家会员名,实付款,订单创建时间,订单状态,货品标题,规格,数量,单价,退款金额,物流单号,物流公司\n"
    "A1,小王的店,150.00,2026-05-01 09:30:00,已发货,纯棉T恤,白色 XL,10,12.00,0,SF123,顺丰速运\n"
    "A1,小王的店,150.00,2026-05-01 09:30:00,已发货,帆布袋,,3,10.00,12.50,SF123,顺丰速运\n"
    "A2,小王的店,60.00,2026-05-10 10:00:00,等待卖家发货,纯棉T恤,白色 XL,5,12.00,,,\n"
)

# A Taobao export that leaves the order's columns empty on its further lines.
EXPORT_TAOBAO = (
    "订单编号,买家会员名,实付款,订单创建时间,宝贝标题,SKU,宝贝数量\n"
    "B1,小李批发,99.00,2026-05-02 14:05:00,保温杯,500ml 黑,2\n"
    "B1,,,,杯刷,,1\n"
)


async def run(sessions, text: str):
    return await import_csv(sessions, io.BytesIO(text.encode()), OrdersConfig(), NOW)


async def lines_of(sessions, order_no: str) -> list[tuple]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                OrderLine.line_no, OrderLine.title, OrderLine.sku, OrderLine.quantity,
                OrderLine.unit_price_cents, OrderLine.refund_cents,
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.order_no == order_no)
            .order_by(OrderLine.line_no)
        )  # fmt: skip
        return [tuple(r) for r in rows]


async def test_an_export_with_one_row_per_line_stores_each_order_once_with_its_lines(sessions):
    result = await run(sessions, EXPORT_1688)
    assert (result.rows, result.lines, result.inserted, result.bad_count) == (3, 3, 2, 0)
    assert await lines_of(sessions, "A1") == [
        (1, "纯棉T恤", "白色 XL", 10, 1200, 0),
        (2, "帆布袋", None, 3, 1000, 1250),
    ]
    async with sessions() as session:
        a1 = await session.scalar(select(Order).where(Order.order_no == "A1"))
        assert (a1.amount_cents, a1.waybill_no, a1.carrier) == (15000, "SF123", "顺丰速运")


async def test_further_lines_may_leave_the_order_columns_empty(sessions):
    result = await run(sessions, EXPORT_TAOBAO)
    assert (result.inserted, result.bad_count) == (1, 0)
    assert await lines_of(sessions, "B1") == [
        (1, "保温杯", "500ml 黑", 2, None, 0),
        (2, "杯刷", None, 1, None, 0),
    ]


async def test_reimporting_replaces_an_orders_lines_and_keeps_the_shipment(sessions):
    await run(sessions, EXPORT_1688)
    again = await run(sessions, EXPORT_1688)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert len(await lines_of(sessions, "A1")) == 2
    # The order now has one line (a line was removed) and an export without shipment columns.
    await run(
        sessions,
        "订单编号,买家会员名,实付款,订单创建时间,订单状态,货品标题,数量\n"
        "A1,小王的店,150.00,2026-05-01 09:30:00,已发货,纯棉T恤,12\n",
    )
    assert await lines_of(sessions, "A1") == [(1, "纯棉T恤", None, 12, None, 0)]
    async with sessions() as session:
        a1 = await session.scalar(select(Order).where(Order.order_no == "A1"))
        assert a1.waybill_no == "SF123"


async def test_a_bad_quantity_is_reported_by_line_and_the_rest_imported(sessions):
    result = await run(
        sessions,
        "订单编号,买家会员名,实付款,订单创建时间,货品标题,数量\n"
        "C1,小张,10,2026-05-01 09:00,毛巾,两打\n"
        "C2,小张,10,2026-05-02 09:00,毛巾,2\n",
    )
    assert result.bad_count == 1 and result.bad_rows[0].line == 2
    assert "quantity" in result.bad_rows[0].reason
    assert await lines_of(sessions, "C2") == [(1, "毛巾", None, 2, None, 0)]


async def test_what_a_buyer_buys_most_and_last(sessions):
    async with sessions() as session, session.begin():
        session.add(Buyer(openid="o-wang", platform_account="小王的店", first_seen_at=NOW))
    await run(sessions, EXPORT_1688)
    async with sessions() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "o-wang"))
        bought = await buyer_purchases(session, buyer.id)
    assert [(i.label, i.quantity, i.orders) for i in bought.top] == [
        ("纯棉T恤（白色 XL）", 15, 2),
        ("帆布袋", 3, 1),
    ]
    assert [i.label for i in bought.last] == ["纯棉T恤（白色 XL）"]  # order A2, the latest
