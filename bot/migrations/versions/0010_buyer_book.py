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
    op.create_index("ix_buyers_spend_12m", "buyers", ["spend_12m", "id"])
    op.create_index("ix_buyers_orders_total", "buyers", ["orders_total", "id"])
    op.create_index("ix_buyers_subscribed_at", "buyers", ["subscribed_at", "id"])
    op.create_index("ix_buyers_display_name", "buyers", ["display_name"])
    op.create_index("ix_buyers_company", "buyers", ["company"])
    op.create_index("ix_buyers_phone_tail", "buyers", [sa.text("substr(phone, length(phone) - 3)")])


def downgrade() -> None:
    for name in (
        "ix_buyers_phone_tail",
        "ix_buyers_company",
        "ix_buyers_display_name",
        "ix_buyers_subscribed_at",
        "ix_buyers_orders_total",
        "ix_buyers_spend_12m",
    ):
        op.drop_index(name, "buyers")
    op.drop_index("ix_buyer_notes_buyer", "buyer_notes")
    op.drop_table("buyer_notes")
