"""The demo's year of statements: twelve closed months that match the demo orders to the
cent, older rebates paid, and nothing added on a second run."""

from __future__ import annotations

from sqlalchemy import func, select

from demo.demo import DEMO_TIERS, seed_buyers
from demo.orders_demo import seed_demo_orders
from demo.statements_demo import seed_demo_statements
from members.orders import Order
from statements.models import PAID, RebateEntry, Statement, StatementPeriod


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
            counted = await session.scalar(
                select(func.coalesce(func.sum(Order.amount_cents), 0)).where(
                    Order.counted.is_(True), Order.buyer_id.is_not(None),
                    Order.ordered_at >= period.starts_at, Order.ordered_at < period.ends_at,
                )
            )  # fmt: skip
            assert period.net_cents == counted, period.key
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
