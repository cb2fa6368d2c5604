"""Demo statements for ``laoke demo``: a rebate ladder and the last twelve months closed over
the demo orders, with the older rebates paid out.

The periods are closed by the real close (``statements/close.py``) as the scheduler would
have closed them, a few days after each month ended, so every figure matches the demo
orders to the cent; rebates of periods more than two months old are marked paid. Seeded
statements count as told (no notice goes out for history). Idempotent: once any period is
closed, nothing is added (the daily run closes the months that follow).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from statements.close import close_period, last_closed
from statements.ladder import Ladder, Step, current_ladder, save_ladder
from statements.ledger import METHODS, mark_paid
from statements.models import Statement, StatementPeriod
from statements.periods import period_of

ACTOR = "自动结账"
PAYER = "财务小周"
# Monthly net spend → rebate: 满 ¥3,000 返 1%, 满 ¥10,000 返 2%, 满 ¥30,000 返 3%.
DEMO_LADDER = Ladder(
    None,
    "spend",
    (Step(100, min_cents=300_000), Step(200, min_cents=1_000_000), Step(300, min_cents=3_000_000)),
)
MONTHS = 12
PAID_AFTER_DAYS = 10


async def seed_demo_statements(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """A ladder, twelve closed periods and their payouts (once)."""
    now = clock.now()
    async with sessions() as session, session.begin():
        if await last_closed(session) is not None:
            return
        if (await current_ladder(session)).version is None:
            await save_ladder(session, DEMO_LADDER, "管理员", now - timedelta(days=400))
    period = period_of(now, config.statements.period, config.orders.timezone)
    periods = []
    for _ in range(MONTHS if config.statements.period == "month" else 4):
        period = period.previous()
        periods.insert(0, period)
    for p in periods:
        closed_at = min(p.ends_at + timedelta(days=config.statements.close_after_days), now)
        await close_period(sessions, p, actor=ACTOR, now=closed_at)
    async with sessions() as session, session.begin():
        await session.execute(update(Statement).values(notice="none"))
        rows = (
            await session.execute(
                select(Statement.id, StatementPeriod.ends_at)
                .join(StatementPeriod, StatementPeriod.id == Statement.period_id)
                .where(
                    Statement.rebate_cents > 0,
                    StatementPeriod.key.in_([p.key for p in periods[:-2]]),
                )
                .order_by(Statement.id)
            )
        ).all()
        for n, (statement_id, ended) in enumerate(rows):
            await mark_paid(
                session, statement_id, method=METHODS[n % 3], note="", actor=PAYER,
                now=ended + timedelta(days=PAID_AFTER_DAYS),
            )  # fmt: skip
