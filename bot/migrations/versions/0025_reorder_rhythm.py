"""reorder rhythm: each buyer's last order, cycle, expected next order, state, what they
bought last, and the order the last 补货提醒 was for

Revision ID: 0025
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

COLUMNS = (
    ("last_order_at", sa.DateTime()),
    ("cycle_days", sa.Integer()),
    ("next_order_on", sa.Date()),
    ("reorder_state", sa.String(16)),
    ("days_overdue", sa.Integer()),
    ("last_bought", sa.String(200)),
    ("reorder_reminded_for", sa.DateTime()),
)


def upgrade() -> None:
    # Plain ALTER TABLE (nullable columns): no batch copy of the buyers table, whose
    # expression indexes a copy would drop on SQLite.
    for name, type_ in COLUMNS:
        op.add_column("buyers", sa.Column(name, type_, nullable=True))
    op.create_index("ix_buyers_reorder_state", "buyers", ["reorder_state"])


def downgrade() -> None:
    op.drop_index("ix_buyers_reorder_state", table_name="buyers")
    for name, _ in reversed(COLUMNS):
        op.drop_column("buyers", name)
