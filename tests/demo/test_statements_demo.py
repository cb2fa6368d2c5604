"""The demo's year of statements: twelve closed months that match the demo orders to the
cent, older rebates paid, and nothing added on a second run."""

from __future__ import annotations

from sqlalchemy import func, select

from demo.demo import DEMO_TIERS, seed_buyers
from demo.orders_demo import seed_demo_orders
from demo.statements_demo import seed_demo_statements
from members.orders import Order
from statements.lines import order_lines_table
from statements.models import PAID, RebateEntry, Statement, StatementPeriod


async def counted_cents(session, period) -> int:
    """The counted orders of the period, less what was refunded on their lines (where orders
    carry line items)."""
    rows = await session.execute(
        select(Order.id, Order.amount_cents).where(
            Order.counted.is_(True), Order.buyer_id.is_not(None),
            Order.ordered_at >= period.starts_at, Order.ordered_at < period.ends_at,
        )
    )  # fmt: skip
    amounts = dict(rows.all())
    refunds: dict[int, int] = {}
    table = order_lines_table()
    if table is not None and amounts:
        refunds = dict((await session.execute(
            select(table.c.order_id, func.sum(table.c.refund_cents))
            .where(table.c.order_id.in_(list(amounts))).group_by(table.c.order_id)
        )).all())  # fmt: skip
    return sum(cents - min(int(refunds.get(oid) or 0), cents) for oid, cents in amounts.items())


async def test_a_year_of_closed_months_matches_the_demo_orders(sqlite_url, make_config, clock):
    from bot.database import create_engine, sessionmaker

    engine = create_engine(sqlite_url)
    sessions = sessionmaker(engine)
    config = make_config(tiers={"levels": DEMO_TIERS})
    for seeder in (seed_buyers, seed_demo_orders, seed_demo_statements):
        await seeder(sessions, config, clock)
    async with sessions() as session:
        periods = list(
            await session.scalars(select(StatementPeriod).order_by(StatementPeriod.starts_at))
        )
        assert len(periods) == 12
        assert periods[-1].ends_at <= clock.now()
        for period in periods:
            assert period.net_cents == await counted_cents(session, period), period.key
        assert sum(p.rebate_cents for p in periods) > 0
        paid = await session.scalar(
            select(func.count()).select_from(RebateEntry).where(RebateEntry.kind == PAID)
        )
        assert paid > 0
        statements = await session.scalar(select(func.count()).select_from(Statement))
    await seed_demo_statements(sessions, config, clock)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Statement)) == statements
    await engine.dispose()
