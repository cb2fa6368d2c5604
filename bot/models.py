"""The core tables: buyers, every inbound message/event, every outbound message, shared state.

Feature tables live beside their feature (``bot/dialog/forms/store.py``, ``members/orders.py``,
``scheduler/models.py``) on the same ``Base``; ``bot/migrations`` creates all of them.
The buyer row also carries the business-card fields and the denormalised order figures that
segments filter on, so a segment over a million buyers is one indexed query with no joins.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Buyer.reorder_state, as insights/rhythm.py decides it from the days since the last order.
REORDER_ON_RHYTHM, REORDER_DUE, REORDER_OVERDUE, REORDER_LAPSED = (
    "on_rhythm",
    "due",
    "overdue",
    "lapsed",
)
REORDER_STATES = (REORDER_ON_RHYTHM, REORDER_DUE, REORDER_OVERDUE, REORDER_LAPSED)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite has no time zones, PostgreSQL gets the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class Buyer(Base):
    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    qr_scene: Mapped[str | None] = mapped_column(String(64))
    last_interaction_at: Mapped[datetime | None]
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list] = mapped_column(JSON, default=list)

    # The business card (名片). Erased by 删除我的资料.
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(32))
    card_completed_at: Mapped[datetime | None]
    card_reminded_at: Mapped[datetime | None]
    # Declined the card's consent or erased their data: no reminders to exchange a card.
    card_declined_at: Mapped[datetime | None]
    # The form the buyer has open (mirrors form_states), so most messages skip that lookup.
    open_form: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(64))
    company: Mapped[str | None] = mapped_column(String(128))
    business_type: Mapped[str | None] = mapped_column(String(32))
    channels: Mapped[list] = mapped_column(JSON, default=list)
    interests: Mapped[list] = mapped_column(JSON, default=list)
    volume_min: Mapped[int | None] = mapped_column(Integer)
    volume_max: Mapped[int | None] = mapped_column(Integer)
    province: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    platform_account: Mapped[str | None] = mapped_column(String(128), index=True)

    # Membership. tier_key is the effective tier; a manual tier wins until it expires.
    tier_key: Mapped[str | None] = mapped_column(String(32))
    tier_since: Mapped[datetime | None]
    tier_manual_key: Mapped[str | None] = mapped_column(String(32))
    tier_manual_until: Mapped[datetime | None]
    tier_manual_reason: Mapped[str | None] = mapped_column(String(256))
    tier_below_since: Mapped[datetime | None]  # start of a downgrade grace period
    orders_12m: Mapped[int] = mapped_column(Integer, default=0)
    spend_12m: Mapped[float] = mapped_column(Float, default=0.0)
    orders_total: Mapped[int] = mapped_column(Integer, default=0)
    # The reorder rhythm (insights/rhythm.py), refreshed daily from the counted orders: the
    # last order, the cycle in days, the local date the next order is expected, the state
    # (on_rhythm, due, overdue, lapsed; None without orders), days past the expected date,
    # what the last order held, and the last order a 补货提醒 was sent for (once per cycle).
    last_order_at: Mapped[datetime | None]
    cycle_days: Mapped[int | None] = mapped_column(Integer)
    next_order_on: Mapped[date | None] = mapped_column(Date)
    reorder_state: Mapped[str | None] = mapped_column(String(16))
    days_overdue: Mapped[int | None] = mapped_column(Integer)
    last_bought: Mapped[str | None] = mapped_column(String(200))
    reorder_reminded_for: Mapped[datetime | None]
    # A notice (tier change …) that could not be sent yet; delivered when the buyer writes.
    pending_notice: Mapped[str | None] = mapped_column(Text)

    # What the platform says of the follower, filled by the follower sync (followers/):
    # WeChat's unionid, the remark staff set in the MP backend, the follower's WeChat tag ids
    # and how they followed (ADD_SCENE_QR_CODE, ADD_SCENE_SEARCH …). The QR scene itself is
    # ``qr_scene`` (qr_scene_str, or the numeric qr_scene as text), as the webhook keeps it.
    unionid: Mapped[str | None] = mapped_column(String(64))
    wechat_remark: Mapped[str | None] = mapped_column(String(64))
    wechat_tag_ids: Mapped[list] = mapped_column(JSON, default=list)
    subscribe_scene: Mapped[str | None] = mapped_column(String(32))
    # Created by the follower sync (a follower who never wrote); None for buyers the webhook met.
    imported_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_buyers_last_interaction", "last_interaction_at"),
        Index("ix_buyers_tier", "tier_key"),
        Index("ix_buyers_reorder_state", "reorder_state"),
    )


class InboundMessage(Base):
    """Every message or event WeChat delivered, once (the dedup key is unique)."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # sender+MsgId for messages, sender+CreateTime(+event) for events.
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    openid: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str | None] = mapped_column(Text)  # erased by 删除我的资料
    wechat_created_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    # processing → done; `reply` is exactly what WeChat was (or will be) answered.
    status: Mapped[str] = mapped_column(String(16), default="processing")
    reply: Mapped[str | None] = mapped_column(Text)
    # The handler missed the deadline: WeChat got `success`, the reply went by the CS API.
    deferred: Mapped[bool] = mapped_column(Boolean, default=False)
    handler: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_inbound_openid_received", "openid", "received_at"),
        # The dashboard's senders per day read a range of time.
        Index("ix_inbound_received", "received_at", "msg_type", "openid"),
    )


class OutboundMessage(Base):
    """Every message sent to a buyer: passive replies and API sends, with their result."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    # reply (passive, in the HTTP answer), custom (customer-service API), template
    channel: Mapped[str] = mapped_column(String(16))
    # reply, deferred_reply, tier_change, campaign …
    purpose: Mapped[str] = mapped_column(String(32))
    content: Mapped[str | None] = mapped_column(Text)  # erased by 删除我的资料
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    created_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(16))  # ok, failed
    errcode: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_outbound_openid_created", "openid", "created_at"),)


class AccessToken(Base):
    """The access_token shared by every process (WeChat invalidates the old one on refetch)."""

    __tablename__ = "access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime]
    fetched_at: Mapped[datetime]


class Lease(Base):
    """A named lease held by one process at a time (token refresh, the scheduler)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
