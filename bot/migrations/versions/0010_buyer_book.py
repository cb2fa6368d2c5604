"""buyer book: buyer_notes, indexes for the buyer list's sorts and searches

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buyer_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "buyer_id", sa.Integer(), sa.ForeignKey("buyers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_buyer_notes_buyer", "buyer_notes", ["buyer_id", "id"])
    # On coalesce(column, NULL), not the bare column: see members/buyer_notes.py sort_key.
    for name, column in (
        ("ix_buyers_sort_spend", "spend_12m"),
        ("ix_buyers_sort_orders", "orders_total"),
        ("ix_buyers_sort_followed", "subscribed_at"),
    ):
        op.create_index(name, "buyers", [sa.text(f"coalesce({column}, NULL)"), "id"])
    op.create_index("ix_buyers_display_name", "buyers", ["display_name"])
    op.create_index("ix_buyers_company", "buyers", ["company"])
    op.create_index("ix_buyers_phone_tail", "buyers", [sa.text("substr(phone, length(phone) - 3)")])
    op.create_index("ix_buyers_tier_region", "buyers", ["tier_key", "province", "city"])


def downgrade() -> None:
    for name in (
        "ix_buyers_tier_region",
        "ix_buyers_phone_tail",
        "ix_buyers_company",
        "ix_buyers_display_name",
        "ix_buyers_sort_followed",
        "ix_buyers_sort_orders",
        "ix_buyers_sort_spend",
    ):
        op.drop_index(name, "buyers")
    op.drop_index("ix_buyer_notes_buyer", "buyer_notes")
    op.drop_table("buyer_notes")
