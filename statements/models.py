"""The tables of statements and rebates: closed periods, statements and their lines, the
rebate ladder's versions and the rebate ledger.

A period row exists only once the period is closed; the open period is computed live from
the orders. Statements and their lines are written once, in the transaction that closes the
period, and never changed afterwards (only ``notice``, which records how the buyer was told).
``statement_lines.amount_cents`` is what the line adds to the buyer's net spend: an order
adds its amount, a refund subtracts, an adjustment corrects an order of an earlier, closed
period. The ledger is append-only: a row is never updated or deleted, and its ``entry_key``
(unique) makes writing the same accrual or payment twice a no-op.

This module holds no rules: closing is ``statements/close.py``, rates ``statements/ladder.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

# What a statement line is.
ORDER, REFUND, ADJUSTMENT = "order", "refund", "adjustment"
# What a ledger entry is.
ACCRUED, PAID = "accrued", "paid"

_ID = BigInteger().with_variant(Integer, "sqlite")


class StatementPeriod(Base):
    """A closed period (2026-11, 2026-Q4, 2026) with its totals; never changed once written."""

    __tablename__ = "statement_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # month, quarter, year
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]  # exclusive
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(64))
    ladder_version: Mapped[int | None] = mapped_column(Integer)
    buyers: Mapped[int] = mapped_column(Integer)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    rebate_cents: Mapped[int] = mapped_column(BigInteger)


class Statement(Base):
    """One buyer's statement of one closed period."""

    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("statement_periods.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    orders: Mapped[int] = mapped_column(Integer)
    order_cents: Mapped[int] = mapped_column(BigInteger)
    refund_cents: Mapped[int] = mapped_column(BigInteger)  # negative or 0
    adjustment_cents: Mapped[int] = mapped_column(BigInteger)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    tier_key: Mapped[str | None] = mapped_column(String(32))
    # Net spend less the SKUs the ladder excluded: what the rate applies to.
    rebate_base_cents: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int] = mapped_column(Integer)  # basis points: 250 = 2.5%
    rebate_cents: Mapped[int] = mapped_column(BigInteger)
    # How the buyer was told of it: None (not yet), custom, template, stored, none.
    notice: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("period_id", "buyer_id", name="uq_statements_period_buyer"),
        Index("ix_statements_buyer", "buyer_id", "period_id"),
    )


class StatementLine(Base):
    """An order, a refund or an adjustment on a statement."""

    __tablename__ = "statement_lines"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    order_no: Mapped[str] = mapped_column(String(64))
    ordered_at: Mapped[datetime]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(128), default="")

    __table_args__ = (
        Index("ix_statement_lines_statement", "statement_id", "ordered_at"),
        Index("ix_statement_lines_order", "order_id"),
    )


class RebateLadder(Base):
    """One saved version of the rebate ladder (the highest version is in force)."""

    __tablename__ = "rebate_ladders"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    basis: Mapped[str] = mapped_column(String(8))  # spend (thresholds) or tier (rate per tier)
    # spend: [{"min_cents": 1000000, "bp": 200}, …]; tier: [{"tier": "gold", "bp": 300}, …]
    steps: Mapped[list] = mapped_column()
    # SKUs whose lines do not earn a rebate (applied where orders carry line items).
    exclude_skus: Mapped[list] = mapped_column()
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[datetime]


class RebateEntry(Base):
    """One line of the rebate ledger: a rebate accrued at a close, or a payout."""

    __tablename__ = "rebate_ledger"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(64), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    kind: Mapped[str] = mapped_column(String(8))  # accrued, paid
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # always positive
    method: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_rebate_ledger_buyer", "buyer_id", "id"),)
