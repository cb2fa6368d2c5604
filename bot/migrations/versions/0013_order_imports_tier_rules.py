"""orders and tiers console: import jobs, column-mapping presets, the stored tier ladder

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_import_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_order_import_jobs_status", "order_import_jobs", ["status"])
    op.create_table(
        "order_mapping_presets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", name="uq_order_mapping_presets_platform"),
    )
    op.create_table(
        "tier_rule_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tier_rule_sets")
    op.drop_table("order_mapping_presets")
    op.drop_index("ix_order_import_jobs_status", table_name="order_import_jobs")
    op.drop_table("order_import_jobs")
