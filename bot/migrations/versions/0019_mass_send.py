"""mass send: one row per message/mass/send call, the per-buyer monthly allowance, and the
mass send that carries each delivery

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("mass_send_id", sa.Integer(), nullable=True))
    op.create_table(
        "mass_sends",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=False, unique=True),
        sa.Column("msg_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finish_status", sa.String(64), nullable=True),
        sa.Column("total_count", sa.Integer(), nullable=True),
        sa.Column("filter_count", sa.Integer(), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("step_id", "batch", name="uq_mass_sends_step_batch"),
    )
    op.create_index("ix_mass_sends_campaign", "mass_sends", ["campaign_id"])
    op.create_index("ix_mass_sends_msg_id", "mass_sends", ["msg_id"])
    op.create_index("ix_mass_sends_created", "mass_sends", ["created_at"])
    op.create_table(
        "mass_allowance",
        sa.Column("buyer_id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("used", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mass_allowance")
    op.drop_index("ix_mass_sends_created", table_name="mass_sends")
    op.drop_index("ix_mass_sends_msg_id", table_name="mass_sends")
    op.drop_index("ix_mass_sends_campaign", table_name="mass_sends")
    op.drop_table("mass_sends")
    op.drop_column("deliveries", "mass_send_id")
