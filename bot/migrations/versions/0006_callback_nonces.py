"""callback nonces: a signed query of an unencrypted callback is good for one body

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_nonces",
        sa.Column("signature", sa.String(40), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_callback_nonces_seen_at", "callback_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_nonces_seen_at", table_name="callback_nonces")
    op.drop_table("callback_nonces")
