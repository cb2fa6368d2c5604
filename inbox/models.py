"""The inbox tables: one conversation per buyer, its messages, and saved quick replies.

A conversation is ``waiting`` from the first buyer message that needs a person until a staff
reply or 标为已处理 (``waiting_since`` is cleared by nothing else), ``open`` once answered and
``done`` when marked so; a new handoff reopens it as a new episode (``opened_at``), with a
fresh acknowledgement. ``version`` grows on every change and ``updated_at`` moves with it:
the live feed (``inbox/live.py``) polls them. Campaign pushes and other sends are not copied
here; the thread reads them from ``outbound_messages``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

WAITING, OPEN, DONE = "waiting", "open", "done"
# Who wrote a message of the thread.
BUYER, BOT, STAFF = "buyer", "bot", "staff"


class Conversation(Base):
    __tablename__ = "inbox_conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=WAITING)
    opened_at: Mapped[datetime]
    waiting_since: Mapped[datetime | None]
    requested_person: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_to: Mapped[int | None] = mapped_column(Integer)  # console user id
    acked_at: Mapped[datetime | None]  # the buyer was last told staff will answer (this episode)
    # 来消息时提醒我: the staff member to alert when the buyer writes again.
    remind_user_id: Mapped[int | None] = mapped_column(Integer)
    last_message_at: Mapped[datetime]
    last_message: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_inbox_conversations_updated", "updated_at"),
        Index("ix_inbox_conversations_status", "status", "waiting_since"),
    )


class InboxMessage(Base):
    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("inbox_conversations.id"))
    author: Mapped[str] = mapped_column(String(8))  # buyer, bot, staff
    msgtype: Mapped[str] = mapped_column(String(16), default="text")  # text, image, template
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    staff_user_id: Mapped[int | None] = mapped_column(Integer)
    staff_name: Mapped[str | None] = mapped_column(String(64))
    outbound_id: Mapped[int | None] = mapped_column(BigInteger)
    # For the staff reply that ended a wait: seconds the buyer waited (first-response time).
    response_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_inbox_messages_conversation", "conversation_id", "id"),
        Index("ix_inbox_messages_staff", "author", "created_at"),
    )


class QuickReply(Base):
    __tablename__ = "inbox_quick_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(String(600))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
