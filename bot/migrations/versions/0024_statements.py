"""statements: closed periods, per-buyer statements and their lines, rebate ladder versions,
the rebate ledger

Revision ID: 0024
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "statement_periods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(16), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=False),
        sa.Column("ladder_version", sa.Integer(), nullable=True),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("rebate_cents", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "statements",
        sa.Column("id", ID, primary_key=True),
        sa.Column("period_id", sa.Integer(), sa.ForeignKey("statement_periods.id"), nullable=False),
        sa.Column("buyer_id", sa.Integer(), sa.ForeignKey("buyers.id"), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("order_cents", sa.BigInteger(), nullable=False),
        sa.Column("refund_cents", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_cents", sa.BigInteger(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("tier_key", sa.String(32), nullable=True),
        sa.Column("rebate_base_cents", sa.BigInteger(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("rebate_cents", sa.BigInteger(), nullable=False),
        sa.Column("notice", sa.String(16), nullable=True),
        sa.UniqueConstraint("period_id", "buyer_id", name="uq_statements_period_buyer"),
    )
    op.create_index("ix_statements_buyer", "statements", ["buyer_id", "period_id"])
    op.create_table(
        "statement_lines",
        sa.Column("id", ID, primary_key=True),
        sa.Column("statement_id", ID, sa.ForeignKey("statements.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("order_no", sa.String(64), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_statement_lines_statement", "statement_lines", ["statement_id", "ordered_at"]
    )
    op.create_index("ix_statement_lines_order", "statement_lines", ["order_id"])
    op.create_table(
        "rebate_ladders",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("basis", sa.String(8), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("exclude_skus", sa.JSON(), nullable=False),
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "rebate_ledger",
        sa.Column("id", ID, primary_key=True),
        sa.Column("entry_key", sa.String(64), nullable=False, unique=True),
        sa.Column("buyer_id", sa.Integer(), sa.ForeignKey("buyers.id"), nullable=False),
        sa.Column("statement_id", ID, sa.ForeignKey("statements.id"), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_rebate_ledger_buyer", "rebate_ledger", ["buyer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_rebate_ledger_buyer", table_name="rebate_ledger")
    op.drop_table("rebate_ledger")
    op.drop_table("rebate_ladders")
    op.drop_index("ix_statement_lines_order", table_name="statement_lines")
    op.drop_index("ix_statement_lines_statement", table_name="statement_lines")
    op.drop_table("statement_lines")
    op.drop_index("ix_statements_buyer", table_name="statements")
    op.drop_table("statements")
    op.drop_table("statement_periods")
