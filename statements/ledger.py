"""The rebate ledger: rebates accrued at each close and payouts marked by staff, append-only.

Each entry has a natural key (``accrued:2026-11:42``, ``paid:2026-11:42``) that is unique in
the table, so recomputing, a retried close or a double click writes nothing the second time
and a rebate can never be paid twice. Entries are never updated or deleted; what a buyer is
owed is what accrued minus what was paid. This module does not compute rebates
(``ladder.py``, ``close.py``) and writes no audit entry (its callers do).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.database import dialect_insert
from statements.models import ACCRUED, PAID, RebateEntry, Statement, StatementPeriod

METHODS = ("转账", "微信", "支付宝", "抵扣货款", "现金", "其他")


class LedgerError(ValueError):
    """A payout that cannot be marked; the message is shown to staff as is."""


@dataclass(frozen=True)
class Balance:
    accrued_cents: int
    paid_cents: int

    @property
    def owed_cents(self) -> int:
        return self.accrued_cents - self.paid_cents


def accrual_key(period_key: str, buyer_id: int) -> str:
    return f"accrued:{period_key}:{buyer_id}"


def payout_key(period_key: str, buyer_id: int) -> str:
    return f"paid:{period_key}:{buyer_id}"


async def _add_once(session: AsyncSession, **values) -> bool:
    """Insert the entry unless its key exists; True if it was written."""
    stmt = dialect_insert(session, RebateEntry).values(**values)
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["entry_key"]))
    return result.rowcount == 1


async def accrue(
    session: AsyncSession, statements: list[Statement], period_key: str, actor: str,
    now: datetime,
) -> None:  # fmt: skip
    """Record the rebates of these statements as accrued, in one statement (those without a
    rebate have none; an accrual already there is left as it is)."""
    rows = [
        {"entry_key": accrual_key(period_key, s.buyer_id), "buyer_id": s.buyer_id,
         "statement_id": s.id, "kind": ACCRUED, "amount_cents": s.rebate_cents, "method": "",
         "note": "", "actor": actor[:64], "created_at": now}
        for s in statements
        if s.rebate_cents > 0
    ]  # fmt: skip
    if rows:
        stmt = dialect_insert(session, RebateEntry).on_conflict_do_nothing(
            index_elements=["entry_key"]
        )
        await session.execute(stmt, rows)


async def mark_paid(
    session: AsyncSession, statement_id: int, *, method: str, note: str, actor: str,
    now: datetime,
) -> RebateEntry:  # fmt: skip
    """Record that the rebate of a statement was paid out; LedgerError if it cannot be."""
    statement = await session.get(Statement, statement_id)
    if statement is None:
        raise LedgerError("没有这张对账单")
    if statement.rebate_cents <= 0:
        raise LedgerError("这张对账单没有返点")
    if method not in METHODS:
        raise LedgerError("请选择付款方式")
    period = await session.get(StatementPeriod, statement.period_id)
    key = payout_key(period.key, statement.buyer_id)
    written = await _add_once(
        session, entry_key=key, buyer_id=statement.buyer_id, statement_id=statement.id,
        kind=PAID, amount_cents=statement.rebate_cents, method=method,
        note=note.strip()[:200], actor=actor[:64], created_at=now,
    )  # fmt: skip
    if not written:
        raise LedgerError("这张对账单的返点已经标记为已付，不会重复付款")
    return await session.scalar(select(RebateEntry).where(RebateEntry.entry_key == key))


async def payouts(session: AsyncSession, statement_ids: list[int]) -> dict[int, RebateEntry]:
    """The payout entry of each of these statements that was paid."""
    if not statement_ids:
        return {}
    rows = await session.scalars(
        select(RebateEntry).where(
            RebateEntry.kind == PAID, RebateEntry.statement_id.in_(statement_ids)
        )
    )
    return {row.statement_id: row for row in rows}


async def balance(session: AsyncSession, buyer_id: int) -> Balance:
    """What a buyer has accrued and been paid, ever."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((RebateEntry.kind == ACCRUED, RebateEntry.amount_cents), else_=0)), 0),
                func.coalesce(func.sum(case((RebateEntry.kind == PAID, RebateEntry.amount_cents), else_=0)), 0),
            ).where(RebateEntry.buyer_id == buyer_id)
        )
    ).one()  # fmt: skip
    return Balance(int(row[0]), int(row[1]))


async def entries(session: AsyncSession, buyer_id: int, limit: int = 50) -> list[RebateEntry]:
    """A buyer's latest ledger entries, newest first."""
    rows = await session.scalars(
        select(RebateEntry)
        .where(RebateEntry.buyer_id == buyer_id)
        .order_by(RebateEntry.id.desc())
        .limit(limit)
    )
    return list(rows)
