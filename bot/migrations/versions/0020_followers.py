"""followers: the follower sync (jobs, their listing), WeChat's follower profile on buyers,
imported buyer events, daily API call counts, saved segments mirrored as WeChat tags

Revision ID: 0020
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy: that would drop the buyers' expression indexes on
    # SQLite, and rewrite a million-row table for nothing).
    op.add_column("buyers", sa.Column("unionid", sa.String(64), nullable=True))
    op.add_column("buyers", sa.Column("wechat_remark", sa.String(64), nullable=True))
    op.add_column(
        "buyers",
        sa.Column("wechat_tag_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column("buyers", sa.Column("subscribe_scene", sa.String(32), nullable=True))
    op.add_column("buyers", sa.Column("imported_at", sa.DateTime(), nullable=True))
    op.add_column(
        "buyer_events",
        sa.Column("imported", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "follower_sync_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("detailed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("left_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("next_openid", sa.String(64), nullable=True),
        sa.Column("detail_after", sa.String(64), nullable=True),
        sa.Column("calls_list", sa.Integer(), nullable=False),
        sa.Column("calls_detail", sa.Integer(), nullable=False),
        sa.Column("earliest_event_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(512), nullable=True),
    )
    op.create_index("ix_follower_sync_jobs_status", "follower_sync_jobs", ["status"])
    op.create_table(
        "follower_sync_listing",
        sa.Column("job_id", sa.Integer(), primary_key=True),
        sa.Column("openid", sa.String(64), primary_key=True),
    )
    op.create_table(
        "wechat_api_calls",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("api", sa.String(32), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
    )
    op.create_table(
        "segment_wechat_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "segment_id",
            sa.Integer(),
            sa.ForeignKey("segments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tag_name", sa.String(64), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column("creating", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("skipped_sample", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(512), nullable=True),
        sa.UniqueConstraint("segment_id", name="uq_segment_wechat_tags_segment"),
    )
    op.create_table(
        "segment_wechat_tag_members",
        sa.Column(
            "tag_row_id",
            sa.Integer(),
            sa.ForeignKey("segment_wechat_tags.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("openid", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("segment_wechat_tag_members")
    op.drop_table("segment_wechat_tags")
    op.drop_table("wechat_api_calls")
    op.drop_table("follower_sync_listing")
    op.drop_index("ix_follower_sync_jobs_status", "follower_sync_jobs")
    op.drop_table("follower_sync_jobs")
    op.drop_column("buyer_events", "imported")
    for column in ("imported_at", "subscribe_scene", "wechat_tag_ids", "wechat_remark", "unionid"):
        op.drop_column("buyers", column)
