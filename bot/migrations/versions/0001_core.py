"""core tables: buyers, inbound and outbound messages, tokens, leases

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:36:17.757449
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("appid", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("appid"),
    )
    op.create_table(
        "buyers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("qr_scene", sa.String(length=64), nullable=True),
        sa.Column("last_interaction_at", sa.DateTime(), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("consent_at", sa.DateTime(), nullable=True),
        sa.Column("consent_version", sa.String(length=32), nullable=True),
        sa.Column("card_completed_at", sa.DateTime(), nullable=True),
        sa.Column("card_reminded_at", sa.DateTime(), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("company", sa.String(length=128), nullable=True),
        sa.Column("business_type", sa.String(length=32), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("interests", sa.JSON(), nullable=False),
        sa.Column("volume_min", sa.Integer(), nullable=True),
        sa.Column("volume_max", sa.Integer(), nullable=True),
        sa.Column("province", sa.String(length=16), nullable=True),
        sa.Column("city", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("platform_account", sa.String(length=128), nullable=True),
        sa.Column("tier_key", sa.String(length=32), nullable=True),
        sa.Column("tier_since", sa.DateTime(), nullable=True),
        sa.Column("tier_manual_key", sa.String(length=32), nullable=True),
        sa.Column("tier_manual_until", sa.DateTime(), nullable=True),
        sa.Column("tier_manual_reason", sa.String(length=256), nullable=True),
        sa.Column("tier_below_since", sa.DateTime(), nullable=True),
        sa.Column("orders_12m", sa.Integer(), nullable=False),
        sa.Column("spend_12m", sa.Float(), nullable=False),
        sa.Column("orders_total", sa.Integer(), nullable=False),
        sa.Column("pending_notice", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("openid"),
    )
    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.create_index("ix_buyers_last_interaction", ["last_interaction_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_buyers_phone"), ["phone"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_buyers_platform_account"), ["platform_account"], unique=False
        )
        batch_op.create_index("ix_buyers_tier", ["tier_key"], unique=False)

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dedup_key", sa.String(length=160), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("msg_type", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("wechat_created_at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("deferred", sa.Boolean(), nullable=False),
        sa.Column("handler", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_openid_received", ["openid", "received_at"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column(
            "inbound_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbound_openid_created", ["openid", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_openid_created")

    op.drop_table("outbound_messages")
    op.drop_table("leases")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_openid_received")

    op.drop_table("inbound_messages")
    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.drop_index("ix_buyers_tier")
        batch_op.drop_index(batch_op.f("ix_buyers_platform_account"))
        batch_op.drop_index(batch_op.f("ix_buyers_phone"))
        batch_op.drop_index("ix_buyers_last_interaction")

    op.drop_table("buyers")
    op.drop_table("access_tokens")
