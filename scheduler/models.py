"""Campaign tables: campaigns, their timed steps, one delivery row per recipient and step, RSVPs.

The database is the source of truth for everything timed: a step carries its ``due_at`` and
``status``, a delivery its ``status`` and retry time, so a restart loses nothing and a
recipient can never get the same step twice (``UNIQUE(step_id, buyer_id)``). The delivery row
is also the record of what was sent (channel, result, errcode, time): campaign sends are not
copied into ``outbound_messages``, which would double the writes of a million-buyer campaign.

This module only declares tables; the lifecycle lives in ``scheduler/campaigns.py``, fan-out
and timing in ``scheduler/loop.py``, sending in ``scheduler/delivery.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

# Campaign.kind
LIVESTREAM, RECALL, BROADCAST = "livestream", "recall", "broadcast"
KINDS = (LIVESTREAM, RECALL, BROADCAST)

# Campaign.status: draft → scheduled → running → done; paused ⇄ (scheduled|running);
# cancelled from any state but done.
DRAFT, SCHEDULED, RUNNING, PAUSED, CANCELLED, DONE = (
    "draft",
    "scheduled",
    "running",
    "paused",
    "cancelled",
    "done",
)

# CampaignStep.kind and .status
ANNOUNCE, REMINDER, START, WAVE, SEND = "announce", "reminder", "start", "wave", "broadcast"
STEP_PENDING, STEP_FANNED_OUT, STEP_DONE, STEP_MISSED, STEP_CANCELLED = (
    "pending",
    "fanned_out",
    "done",
    "missed",
    "cancelled",
)

# Delivery.status; recipients = sent + failed + skipped + uncertain once nothing is pending.
# claimed: in a sender's batch; sending: its request to WeChat has started (scheduler/delivery.py).
PENDING, CLAIMED, SENDING, SENT, FAILED, SKIPPED, UNCERTAIN = (
    "pending",
    "claimed",
    "sending",
    "sent",
    "failed",
    "skipped",
    "uncertain",
)
# Delivery.channel
CUSTOM, TEMPLATE, MASS = "custom", "template", "mass"
# MassSend.status: sending (the call may be under way) → sent | failed; finished once
# WeChat's MASSSENDJOBFINISH event arrived.
MASS_SENDING, MASS_SENT, MASS_FAILED = "sending", "sent", "failed"

BigId = BigInteger().with_variant(Integer, "sqlite")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    # Either an inline segment spec (scheduler/segments.py) or the name of a saved one; the
    # saved one is resolved at each fan-out, so editing it affects later steps. None: everyone.
    segment: Mapped[dict | None] = mapped_column(JSON)
    segment_name: Mapped[str | None] = mapped_column(String(64))
    # All-day campaigns (the 5·18 00:00–24:00 recall) ignore quiet hours and frequency caps.
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    # WeChat template id for buyers outside the 48-hour window; None: they are skipped.
    template_id: Mapped[str | None] = mapped_column(String(64))
    # The message: a template name under templates/messages (default campaign_<kind>) or,
    # when message_source is set, that Jinja2 source (sandboxed, validated on save).
    message_template: Mapped[str | None] = mapped_column(String(64))
    message_source: Mapped[str | None] = mapped_column(Text)
    # Kind-specific parameters, as validated by scheduler/campaigns.py (datetimes ISO, UTC).
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    scheduled_at: Mapped[datetime | None]
    # Set by resume: a step that came due while paused counts its lateness from here.
    resumed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_campaigns_status", "status"),)


class CampaignStep(Base):
    """One timed send of a campaign: an announcement, a reminder, a recall wave, a broadcast."""

    __tablename__ = "campaign_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order within the campaign
    # For livestream reminders: seconds before the start (shown as "1 hour before").
    offset_s: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=STEP_PENDING)
    fanned_out_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(256))  # why missed / cancelled

    __table_args__ = (
        Index("ix_campaign_steps_due", "status", "due_at"),
        Index("ix_campaign_steps_campaign", "campaign_id", "seq"),
    )


class Delivery(Base):
    """One recipient of one step: claimed by a sender, sent once, its result recorded."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("campaign_steps.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(Integer)  # denormalised for claiming and reports
    buyer_id: Mapped[int] = mapped_column(Integer)
    openid: Mapped[str] = mapped_column(String(64))
    # The buyer asked for this message (RSVP'd start reminder): opt-out, caps and quiet hours
    # do not hold it back; WeChat's 48-hour window still does.
    requested: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # skipped: unsubscribed, opted_out, outside_window, quota_exhausted, cap_day, cap_week,
    # cancelled; failed: errcode, timeout; uncertain: in_flight
    reason: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    errcode: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The mass send that carries this row (channel mass): kept across retries, so a retry
    # repeats the same clientmsgid and WeChat never delivers it twice.
    mass_send_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("step_id", "buyer_id", name="uq_deliveries_step_buyer"),
        # Claiming: pending rows of running campaigns in id order.
        Index("ix_deliveries_claim", "status", "campaign_id", "id"),
        # Frequency caps and the 5-message quota look back over a buyer's recent sends.
        Index("ix_deliveries_buyer_sent", "buyer_id", "sent_at"),
        Index("ix_deliveries_campaign", "campaign_id", "status"),
    )


class MassSend(Base):
    """One ``message/mass/send`` call of a campaign step: its idempotency key, WeChat's
    msg_id and, once ``MASSSENDJOBFINISH`` arrived, WeChat's own counts."""

    __tablename__ = "mass_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer)  # 1, 2 … within the step
    client_msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    msg_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=MASS_SENDING)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    errcode: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    # From MASSSENDJOBFINISH: WeChat's status text and counts (filtered: not delivered, e.g.
    # over the follower's monthly allowance or no longer following).
    finish_status: Mapped[str | None] = mapped_column(String(64))
    total_count: Mapped[int | None] = mapped_column(Integer)
    filter_count: Mapped[int | None] = mapped_column(Integer)
    sent_count: Mapped[int | None] = mapped_column(Integer)
    error_count: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("step_id", "batch", name="uq_mass_sends_step_batch"),
        Index("ix_mass_sends_campaign", "campaign_id"),
        Index("ix_mass_sends_msg_id", "msg_id"),
        Index("ix_mass_sends_created", "created_at"),
    )


class MassAllowance(Base):
    """Mass messages one buyer was sent in one calendar month (Beijing), against the
    platform's allowance of 4 (``[wechat] mass_per_follower_month``)."""

    __tablename__ = "mass_allowance"

    buyer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    used: Mapped[int] = mapped_column(Integer, default=0)


class Rsvp(Base):
    """A buyer who said 预约 / 提醒我 for a livestream: always gets its start reminder."""

    __tablename__ = "rsvps"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
