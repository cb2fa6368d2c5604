"""order lines: the line items of each order, and the order's waybill number and carrier

Revision ID: 0023
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE: nullable columns, no rewrite of a million-row table.
    op.add_column("orders", sa.Column("waybill_no", sa.String(64), nullable=True))
    op.add_column("orders", sa.Column("carrier", sa.String(32), nullable=True))
    op.create_table(
        "order_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("sku", sa.String(128), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=True),
        sa.Column("refund_cents", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line"),
    )


def downgrade() -> None:
    op.drop_table("order_lines")
    op.drop_column("orders", "carrier")
    op.drop_column("orders", "waybill_no")
