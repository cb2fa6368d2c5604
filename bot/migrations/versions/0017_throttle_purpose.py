"""login_failures: what was attempted (a sign-in or a password confirmation)

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "login_failures",
        sa.Column("purpose", sa.String(16), nullable=False, server_default="login"),
    )


def downgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("purpose")
