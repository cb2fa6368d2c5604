"""Closing a period: statements that match the orders to the cent, closed periods that never
change, late refunds and orders as next period's adjustments, rebates accrued once and paid
once (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from statement_world import add_buyer, add_order, update_order

from statements.close import close_due, close_period
from statements.ladder import Ladder, Step, save_ladder
from statements.ledger import LedgerError, balance, mark_paid
from statements.models import RebateEntry, Statement, StatementLine, StatementPeriod
from statements.periods import PeriodError, parse_period

TZ = "Asia/Shanghai"
NOV, DEC = parse_period("2026-11", "month", TZ), parse_period("2026-12", "month", TZ)
IN_NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)
IN_DEC = datetime(2026, 12, 10, 4, tzinfo=UTC)
AFTER_NOV = datetime(2026, 12, 4, tzinfo=UTC)
AFTER_DEC = datetime(2027, 1, 4, tzinfo=UTC)
LADDER = Ladder(None, "spend", (Step(100, min_cents=1_000_000), Step(250, min_cents=5_000_000)))


async def statements_of(sessions, key: str) -> dict[int, Statement]:
    async with sessions() as session:
        period = await session.scalar(select(StatementPeriod).where(StatementPeriod.key == key))
        rows = await session.scalars(select(Statement).where(Statement.period_id == period.id))
        return {s.buyer_id: s for s in rows}


async def lines_of(sessions, statement_id: int) -> list[tuple[str, str, int, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(StatementLine)
            .where(StatementLine.statement_id == statement_id)
            .order_by(StatementLine.id)
        )
        return [(r.kind, r.order_no, r.amount_cents, r.note) for r in rows]


async def with_ladder(sessions, ladder: Ladder = LADDER) -> None:
    async with sessions() as session, session.begin():
        await save_ladder(session, ladder, "管理员", IN_NOV)


async def test_a_statement_holds_the_buyers_orders_and_refunds_to_the_cent(sessions):
    a = await add_buyer(sessions, "oA", tier_key="gold")
    quiet = await add_buyer(sessions, "oQuiet")
    await with_ladder(sessions)
    await add_order(sessions, "N1", a, 1_234_567, IN_NOV)
    await add_order(sessions, "N2", a, 89, IN_NOV)
    await add_order(sessions, "R1", a, 50_000, IN_NOV, status="退款成功", counted=False)
    await add_order(sessions, "C1", a, 70_000, IN_NOV, status="交易关闭", counted=False)
    await add_order(sessions, "O1", a, 99_999, IN_DEC)  # another period
    await add_order(sessions, "U1", None, 10_000, IN_NOV)  # nobody's yet

    result = await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)

    assert (result.already, result.statements) == (False, 1)
    st = (await statements_of(sessions, "2026-11"))[a]
    assert quiet not in await statements_of(sessions, "2026-11")
    assert (st.orders, st.order_cents, st.refund_cents) == (3, 1_284_656, -50_000)
    assert st.net_cents == 1_234_656 and st.tier_key == "gold"
    assert (st.rate_bp, st.rebate_cents) == (100, 12_347)  # 12,346.56 rounds half up
    kinds = [(k, no, c) for k, no, c, _ in await lines_of(sessions, st.id)]
    assert kinds == [("order", "N1", 1_234_567), ("order", "N2", 89), ("order", "R1", 50_000),
                     ("refund", "R1", -50_000)]  # fmt: skip


async def test_closing_twice_changes_nothing_and_accrues_once(sessions):
    a = await add_buyer(sessions, "oA")
    await with_ladder(sessions)
    await add_order(sessions, "N1", a, 2_000_000, IN_NOV)
    first = await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)
    await add_order(sessions, "N2", a, 5_000_000, IN_NOV)  # arrives after the close
    again = await close_period(sessions, NOV, actor="自动结账", now=AFTER_NOV)

    assert again.already and (again.statements, again.net_cents) == (1, first.net_cents)
    assert (await statements_of(sessions, "2026-11"))[a].net_cents == 2_000_000
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RebateEntry)) == 1
        assert (await balance(session, a)).owed_cents == 20_000


async def test_a_refund_after_the_close_is_an_adjustment_of_the_next_period(sessions):
    a = await add_buyer(sessions, "oA")
    await with_ladder(sessions)
    late_refund = await add_order(sessions, "N1", a, 3_000_000, IN_NOV)
    await add_order(sessions, "N2", a, 400_000, IN_NOV)
    await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)
    await update_order(sessions, late_refund, status="退款成功", counted=False)
    await add_order(sessions, "LATE", a, 120_000, IN_NOV)  # imported after November closed
    await add_order(sessions, "D1", a, 1_000_000, IN_DEC)

    await close_period(sessions, DEC, actor="命令行", now=AFTER_DEC)

    nov = (await statements_of(sessions, "2026-11"))[a]
    assert nov.net_cents == 3_400_000  # a closed statement never changes
    dec = (await statements_of(sessions, "2026-12"))[a]
    assert await lines_of(sessions, dec.id) == [
        ("adjustment", "N1", -3_000_000, "2026年11月订单退款或取消"),
        ("adjustment", "LATE", 120_000, "补录：2026年11月的订单"),
        ("order", "D1", 1_000_000, ""),
    ]
    assert (dec.adjustment_cents, dec.net_cents) == (-2_880_000, -1_880_000)
    assert dec.rebate_cents == 0  # no rebate on a negative period
    # Closing a third period adjusts nothing again: the correction is recorded.
    jan = parse_period("2027-01", "month", TZ)
    result = await close_period(sessions, jan, actor="命令行", now=datetime(2027, 2, 4, tzinfo=UTC))
    assert result.statements == 0


async def test_an_order_relinked_to_another_buyer_moves_between_their_statements(sessions):
    a = await add_buyer(sessions, "oA")
    b = await add_buyer(sessions, "oB")
    order = await add_order(sessions, "N1", a, 500_000, IN_NOV)
    await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)
    await update_order(sessions, order, buyer_id=b)
    await close_period(sessions, DEC, actor="命令行", now=AFTER_DEC)
    dec = await statements_of(sessions, "2026-12")
    assert dec[a].net_cents == -500_000 and dec[b].net_cents == 500_000


async def test_periods_close_only_when_ended_and_in_order(sessions):
    with pytest.raises(PeriodError, match="还没有结束"):
        await close_period(sessions, DEC, actor="命令行", now=IN_DEC)
    await close_period(sessions, NOV.previous(), actor="命令行", now=AFTER_DEC)
    with pytest.raises(PeriodError, match="请按顺序"):
        await close_period(sessions, DEC, actor="命令行", now=AFTER_DEC)


async def test_a_rate_per_tier_pays_by_the_tier_at_the_close(sessions, make_config):
    gold = await add_buyer(sessions, "oG", tier_key="gold")
    plain = await add_buyer(sessions, "oP")
    await with_ladder(sessions, Ladder(None, "tier", (Step(300, tier="gold"),)))
    await add_order(sessions, "G1", gold, 1_000_001, IN_NOV)
    await add_order(sessions, "P1", plain, 9_000_000, IN_NOV)
    await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)
    nov = await statements_of(sessions, "2026-11")
    assert (nov[gold].rate_bp, nov[gold].rebate_cents) == (300, 30_000)
    assert nov[plain].rebate_cents == 0


async def test_a_rebate_is_paid_once_however_often_it_is_marked(sessions):
    a = await add_buyer(sessions, "oA")
    await with_ladder(sessions)
    await add_order(sessions, "N1", a, 6_000_000, IN_NOV)
    await close_period(sessions, NOV, actor="命令行", now=AFTER_NOV)
    st = (await statements_of(sessions, "2026-11"))[a]
    async with sessions() as session, session.begin():
        paid = await mark_paid(session, st.id, method="转账", note="工行 1234", actor="王会计",
                               now=AFTER_NOV)  # fmt: skip
    assert (paid.amount_cents, paid.method, paid.actor) == (150_000, "转账", "王会计")
    with pytest.raises(LedgerError, match="不会重复付款"):
        async with sessions() as session, session.begin():
            await mark_paid(session, st.id, method="微信", note="", actor="李", now=AFTER_NOV)
    async with sessions() as session:
        assert (await balance(session, a)).owed_cents == 0
        assert (await balance(session, a)).paid_cents == 150_000


async def test_the_daily_run_closes_what_is_due(sessions, make_config):
    config = make_config(statements={"close_after_days": 3})
    a = await add_buyer(sessions, "oA")
    await add_order(sessions, "N1", a, 100, IN_NOV)
    # A fresh install's first run closes the latest ended period: statements start there.
    [first] = await close_due(sessions, config, datetime(2026, 12, 2, tzinfo=UTC))
    assert (first.key, first.statements) == ("2026-10", 0)
    assert await close_due(sessions, config, datetime(2026, 12, 3, tzinfo=UTC)) == []
    [result] = await close_due(sessions, config, AFTER_NOV)
    assert (result.key, result.statements) == ("2026-11", 1)
    assert await close_due(sessions, config, AFTER_NOV) == []
