"""Where orders carry line items (``order_lines``, stored by the order import): partial
refunds are refund lines, a partial refund after the close adjusts the next period, and SKUs
the ladder excludes earn no rebate. Skipped where the order import stores no line items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from statement_world import add_buyer, add_order

import laoke.schema  # noqa: F401  (every table registered, order lines included when they exist)
from statements.close import close_period
from statements.ladder import Ladder, Step, save_ladder
from statements.lines import order_lines_table
from statements.models import Statement, StatementLine, StatementPeriod
from statements.periods import parse_period

pytestmark = pytest.mark.skipif(
    order_lines_table() is None, reason="the order import stores no line items here"
)
TZ = "Asia/Shanghai"
NOV, DEC = parse_period("2026-11", "month", TZ), parse_period("2026-12", "month", TZ)
IN_NOV, IN_DEC = datetime(2026, 11, 10, 4, tzinfo=UTC), datetime(2026, 12, 10, 4, tzinfo=UTC)


async def add_line(sessions, order_id, line_no, sku, quantity, price, refund=0) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(order_lines_table()).values(
            order_id=order_id, line_no=line_no, title=sku, sku=sku, quantity=quantity,
            unit_price_cents=price, refund_cents=refund,
        ))  # fmt: skip


async def set_refund(sessions, order_id, line_no, refund) -> None:
    table = order_lines_table()
    async with sessions() as session, session.begin():
        await session.execute(
            table.update()
            .where(table.c.order_id == order_id, table.c.line_no == line_no)
            .values(refund_cents=refund)
        )


async def statement(sessions, key, buyer_id):
    async with sessions() as session:
        return await session.scalar(
            select(Statement).join(StatementPeriod).where(
                StatementPeriod.key == key, Statement.buyer_id == buyer_id)
        )  # fmt: skip


async def test_partial_refunds_and_excluded_skus(sessions):
    a = await add_buyer(sessions, "oA")
    async with sessions() as session, session.begin():
        ladder = Ladder(None, "spend", (Step(200, min_cents=100_000),), ("SAMPLE-1",))
        await save_ladder(session, ladder, "管理员", IN_NOV)
    order = await add_order(sessions, "N1", a, 300_000, IN_NOV)
    await add_line(sessions, order, 1, "DRESS-9", 10, 25_000, refund=25_000)
    await add_line(sessions, order, 2, "SAMPLE-1", 1, 50_000)
    await close_period(sessions, NOV, actor="命令行", now=datetime(2026, 12, 4, tzinfo=UTC))

    nov = await statement(sessions, "2026-11", a)
    assert (nov.refund_cents, nov.net_cents) == (-25_000, 275_000)
    assert nov.rebate_base_cents == 225_000 and nov.rebate_cents == 4_500  # 2% of ¥2,250

    await set_refund(sessions, order, 1, 75_000)  # two more dresses come back after the close
    await close_period(sessions, DEC, actor="命令行", now=datetime(2027, 1, 4, tzinfo=UTC))
    dec = await statement(sessions, "2026-12", a)
    async with sessions() as session:
        lines = list(await session.scalars(
            select(StatementLine).where(StatementLine.statement_id == dec.id)))  # fmt: skip
    assert [(li.kind, li.amount_cents) for li in lines] == [("adjustment", -50_000)]
