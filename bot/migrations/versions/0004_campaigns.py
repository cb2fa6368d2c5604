"""campaigns tables: campaigns, campaign_steps, deliveries, rsvps

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=True),
        sa.Column("segment_name", sa.String(64), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=True),
        sa.Column("message_template", sa.String(64), nullable=True),
        sa.Column("message_source", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(), nullable=True),
        sa.Column("resumed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("offset_s", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(256), nullable=True),
    )
    op.create_index("ix_campaign_steps_due", "campaign_steps", ["status", "due_at"])
    op.create_index("ix_campaign_steps_campaign", "campaign_steps", ["campaign_id", "seq"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "step_id",
            sa.Integer(),
            sa.ForeignKey("campaign_steps.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("requested", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("step_id", "buyer_id", name="uq_deliveries_step_buyer"),
    )
    op.create_index("ix_deliveries_claim", "deliveries", ["status", "campaign_id", "id"])
    op.create_index("ix_deliveries_buyer_sent", "deliveries", ["buyer_id", "sent_at"])
    op.create_index("ix_deliveries_campaign", "deliveries", ["campaign_id", "status"])
    op.create_table(
        "rsvps",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("buyer_id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rsvps")
    op.drop_index("ix_deliveries_campaign", "deliveries")
    op.drop_index("ix_deliveries_buyer_sent", "deliveries")
    op.drop_index("ix_deliveries_claim", "deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_campaign_steps_campaign", "campaign_steps")
    op.drop_index("ix_campaign_steps_due", "campaign_steps")
    op.drop_table("campaign_steps")
    op.drop_index("ix_campaigns_status", "campaigns")
    op.drop_table("campaigns")
