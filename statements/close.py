"""Closing a period: one transaction writes the period, every active buyer's statement with
its lines, and the accrued rebates.

A buyer has a statement when they have any line (an order, a refund or an adjustment). The
rate comes from the ladder in force at the close (recorded on the period), the tier from the
buyer's row at that moment. Closing is idempotent: a period that is closed already is
reported as such and nothing is written, and two processes closing at once meet at the
period's unique key, where one wins and the other finds it closed. Periods close in order
(``periods.closable``), so the statement of a closed period never changes afterwards.

This module does not tell buyers (``notices.py``) and does not schedule (``scheduler`` calls
``close_due`` daily; ``laoke statements close`` calls ``close_period``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.models import Buyer
from statements.ladder import current_ladder, rebate_cents
from statements.ledger import accrue
from statements.lines import compute_drafts
from statements.models import Statement, StatementLine, StatementPeriod
from statements.periods import Period, closable, due, period_of

log = logging.getLogger(__name__)

SCHEDULE_ACTOR = "自动结账"


@dataclass(frozen=True)
class CloseResult:
    key: str
    already: bool
    statements: int
    net_cents: int
    rebate_cents: int


async def last_closed(session: AsyncSession) -> StatementPeriod | None:
    return await session.scalar(
        select(StatementPeriod).order_by(StatementPeriod.ends_at.desc()).limit(1)
    )


async def first_closed_start(session: AsyncSession) -> datetime | None:
    """Where statements begin: orders before it are no part of any statement."""
    first = await session.scalar(
        select(StatementPeriod).order_by(StatementPeriod.starts_at).limit(1)
    )
    return None if first is None else first.starts_at


def open_period(config: Config, now: datetime) -> Period:
    """The period running now (what the chat's 本月 and the console's 进行中 show)."""
    return period_of(now, config.statements.period, config.orders.timezone)


Recorder = Callable[[AsyncSession, CloseResult], None]


async def close_period(
    sessionmaker: async_sessionmaker[AsyncSession], period: Period, *, actor: str, now: datetime,
    record: Recorder | None = None,
) -> CloseResult:  # fmt: skip
    """Close `period` (PeriodError if it may not be closed yet or out of order). `record` is
    called inside the closing transaction (the console's audit entry), only if it closes."""
    try:
        async with sessionmaker() as session, session.begin():
            existing = await session.scalar(
                select(StatementPeriod).where(StatementPeriod.key == period.key)
            )
            if existing is not None:
                return CloseResult(period.key, True, existing.buyers, existing.net_cents,
                                   existing.rebate_cents)  # fmt: skip
            last = await last_closed(session)
            closable(period, now, last.key if last else None, last.ends_at if last else None)
            ladder = await current_ladder(session)
            drafts = await compute_drafts(
                session, period, await first_closed_start(session), exclude_skus=ladder.exclude_skus
            )
            tiers = dict(
                (await session.execute(
                    select(Buyer.id, Buyer.tier_key).where(Buyer.tier_key.is_not(None))
                )).all()
            ) if drafts else {}  # fmt: skip
            row = StatementPeriod(
                key=period.key, kind=period.kind, starts_at=period.starts_at,
                ends_at=period.ends_at, closed_at=now, closed_by=actor[:64],
                ladder_version=ladder.version, buyers=len(drafts), net_cents=0, rebate_cents=0,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            statements = []
            for buyer_id in sorted(drafts):
                draft = drafts[buyer_id]
                tier = tiers.get(buyer_id)
                base = draft.rebate_base_cents
                bp = ladder.rate_bp(base, tier)
                statement = Statement(
                    period_id=row.id, buyer_id=buyer_id, orders=draft.orders,
                    order_cents=draft.order_cents, refund_cents=draft.refund_cents,
                    adjustment_cents=draft.adjustment_cents, net_cents=draft.net_cents,
                    tier_key=tier, rebate_base_cents=base, rate_bp=bp,
                    rebate_cents=rebate_cents(base, bp),
                    notice=None,
                )  # fmt: skip
                session.add(statement)
                statements.append((statement, draft))
            await session.flush()
            # Core bulk inserts: one statement each, not an ORM flush per statement.
            lines = [
                {"statement_id": st.id, "kind": line.kind, "order_id": line.order_id,
                 "order_no": line.order_no[:64], "ordered_at": line.ordered_at,
                 "amount_cents": line.amount_cents, "note": line.note[:128]}
                for st, draft in statements
                for line in draft.lines
            ]  # fmt: skip
            if lines:
                await session.execute(insert(StatementLine), lines)
            await accrue(session, [st for st, _ in statements], period.key, actor, now)
            row.net_cents = sum(s.net_cents for s, _ in statements)
            row.rebate_cents = sum(s.rebate_cents for s, _ in statements)
            result = CloseResult(period.key, False, len(statements), row.net_cents,
                                 row.rebate_cents)  # fmt: skip
            if record is not None:
                record(session, result)
            return result
    except IntegrityError:  # another process closed it at the same moment
        async with sessionmaker() as session:
            existing = await session.scalar(
                select(StatementPeriod).where(StatementPeriod.key == period.key)
            )
        if existing is None:
            raise
        return CloseResult(period.key, True, existing.buyers, existing.net_cents,
                           existing.rebate_cents)  # fmt: skip


async def close_due(
    sessionmaker: async_sessionmaker[AsyncSession], config: Config, now: datetime
) -> list[CloseResult]:
    """The daily run: close every period that is due, oldest first."""
    async with sessionmaker() as session:
        last = await last_closed(session)
    periods = due(
        now, config.statements.period, config.orders.timezone,
        config.statements.close_after_days, last.ends_at if last else None,
    )  # fmt: skip
    results = []
    for period in periods:
        result = await close_period(sessionmaker, period, actor=SCHEDULE_ACTOR, now=now)
        log.info("statements: period %s closed (%d statements)", result.key, result.statements)
        results.append(result)
    return results


async def next_to_close(
    sessionmaker: async_sessionmaker[AsyncSession], config: Config, now: datetime
) -> Period | None:
    """The period staff may close now (the one after the last closed, or the latest ended
    one when none is), or None when it has not ended yet."""
    async with sessionmaker() as session:
        last = await last_closed(session)
    kind, tz = config.statements.period, config.orders.timezone
    if last is None:
        return period_of(now, kind, tz).previous()
    candidate = period_of(last.ends_at, kind, tz)
    return candidate if candidate.ends_at <= now else None
