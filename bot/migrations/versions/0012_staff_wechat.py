"""staff_wechat_bindings: a staff account's own WeChat, for campaign test sends

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_wechat_bindings",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("code", sa.String(16), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(), nullable=True),
        sa.Column("openid", sa.String(64), nullable=True),
        sa.Column("bound_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("code", name="uq_staff_wechat_bindings_code"),
    )


def downgrade() -> None:
    op.drop_table("staff_wechat_bindings")
