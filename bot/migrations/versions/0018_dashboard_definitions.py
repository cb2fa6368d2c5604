"""tier_changes by time (最近变动); drop the dashboard counts whose definition changed

The card funnel's 匹配订单 now counts counted orders only, and a campaign reply is a message
(not an event) within 48 hours after any of the buyer's sends: cached rows of those figures
were computed the old way, so they are deleted and recounted on the next view.

Revision ID: 0018
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tier_changes_created", "tier_changes", ["created_at"])
    rollups = sa.table("dashboard_rollups", sa.column("metric", sa.String))
    op.execute(
        rollups.delete().where(
            sa.or_(
                rollups.c.metric == "funnel:matched",
                rollups.c.metric.like("campaign:%:replied"),
                rollups.c.metric.like("campaign:%:ordered"),
            )
        )
    )


def downgrade() -> None:
    op.drop_index("ix_tier_changes_created", table_name="tier_changes")
