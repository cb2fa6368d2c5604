"""card: the form_states table (per-buyer dialog state of the card and later forms), buyers.card_declined_at and open_form

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_states",
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["buyers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("buyer_id"),
    )
    with op.batch_alter_table("buyers") as batch_op:
        batch_op.add_column(sa.Column("card_declined_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("open_form", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("buyers") as batch_op:
        batch_op.drop_column("open_form")
        batch_op.drop_column("card_declined_at")
    op.drop_table("form_states")
