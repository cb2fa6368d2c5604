"""orders and tiers: the orders table and the record of tier changes

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("first_import", sa.String(length=16), nullable=False),
        sa.Column("last_import", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["buyers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_no"),
    )
    op.create_index(
        "ix_orders_unmatched_account",
        "orders",
        ["account"],
        sqlite_where=sa.text("buyer_id IS NULL"),
        postgresql_where=sa.text("buyer_id IS NULL"),
    )
    op.create_index(
        "ix_orders_unmatched_phone",
        "orders",
        ["phone"],
        sqlite_where=sa.text("buyer_id IS NULL AND phone IS NOT NULL"),
        postgresql_where=sa.text("buyer_id IS NULL AND phone IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_buyer_figures", "orders", ["buyer_id", "counted", "ordered_at", "amount_cents"]
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("from_key", sa.String(length=32), nullable=True),
        sa.Column("to_key", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["buyers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tier_changes_buyer", "tier_changes", ["buyer_id", "created_at"])
    op.create_index("ix_tier_changes_notice", "tier_changes", ["notice"])


def downgrade() -> None:
    op.drop_index("ix_tier_changes_notice", table_name="tier_changes")
    op.drop_index("ix_tier_changes_buyer", table_name="tier_changes")
    op.drop_table("tier_changes")
    op.drop_index("ix_orders_buyer_figures", table_name="orders")
    op.drop_index("ix_orders_unmatched_phone", table_name="orders")
    op.drop_index("ix_orders_unmatched_account", table_name="orders")
    op.drop_table("orders")
