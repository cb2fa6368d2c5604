"""insights: buyer_events (dated follows, unfollows, card steps), dashboard_rollups, range indexes

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buyer_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_buyer_events_kind_at", "buyer_events", ["kind", "at", "buyer_id"])
    op.create_index("ix_buyer_events_buyer", "buyer_events", ["buyer_id", "kind", "at"])
    op.create_table(
        "dashboard_rollups",
        sa.Column("metric", sa.String(48), primary_key=True),
        sa.Column("lo", sa.DateTime(), primary_key=True),
        sa.Column("hi", sa.DateTime(), primary_key=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_dashboard_rollups_hi", "dashboard_rollups", ["hi"])
    # Counts per day/week/month read ranges of time, not one buyer's rows.
    op.create_index(
        "ix_orders_ordered_at", "orders", ["ordered_at", "counted", "buyer_id", "amount_cents"]
    )
    op.create_index(
        "ix_inbound_received", "inbound_messages", ["received_at", "msg_type", "openid"]
    )
    # Seed the history with what the buyer rows already know (the last follow/unfollow and
    # card steps), so a dashboard opened right after the upgrade is not empty.
    for kind, column in (
        ("follow", "subscribed_at"),
        ("unfollow", "unsubscribed_at"),
        ("card_consented", "consent_at"),
        ("card_confirmed", "card_completed_at"),
    ):
        op.execute(
            f"INSERT INTO buyer_events (buyer_id, kind, at) "
            f"SELECT id, '{kind}', {column} FROM buyers WHERE {column} IS NOT NULL"
        )


def downgrade() -> None:
    op.drop_index("ix_inbound_received", table_name="inbound_messages")
    op.drop_index("ix_orders_ordered_at", table_name="orders")
    op.drop_table("dashboard_rollups")
    op.drop_table("buyer_events")
