"""inbox: conversations handed to staff, their messages, saved quick replies

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_conversations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("buyer_id", sa.Integer(), sa.ForeignKey("buyers.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("waiting_since", sa.DateTime(), nullable=True),
        sa.Column("requested_person", sa.Boolean(), nullable=False),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.Column("remind_user_id", sa.Integer(), nullable=True),
        sa.Column("last_message_at", sa.DateTime(), nullable=False),
        sa.Column("last_message", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("buyer_id"),
    )
    op.create_index("ix_inbox_conversations_updated", "inbox_conversations", ["updated_at"])
    op.create_index(
        "ix_inbox_conversations_status", "inbox_conversations", ["status", "waiting_since"]
    )
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey("inbox_conversations.id"),
            nullable=False,
        ),
        sa.Column("author", sa.String(8), nullable=False),
        sa.Column("msgtype", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("staff_name", sa.String(64), nullable=True),
        sa.Column("outbound_id", sa.BigInteger(), nullable=True),
        sa.Column("response_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_inbox_messages_conversation", "inbox_messages", ["conversation_id", "id"])
    op.create_index("ix_inbox_messages_staff", "inbox_messages", ["author", "created_at"])
    op.create_table(
        "inbox_quick_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(40), nullable=False),
        sa.Column("body", sa.String(600), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_quick_replies")
    op.drop_table("inbox_messages")
    op.drop_table("inbox_conversations")
