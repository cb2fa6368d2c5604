"""The dated history of what a buyer did that the buyer row only keeps the latest of.

The buyer row says whether someone follows *now* and when the card was confirmed; the
dashboard needs the follows and unfollows of every day and the card's steps over time.
Each is one ``buyer_events`` row (buyer, kind, time), written in the same transaction as the
change it records: follows and unfollows by the webhook's claim (``bot/inbound/buyers.py``), card
steps by the card dialog (``handlers/card.py``), and follows and unfollows the webhook never saw
by the follower sync (``followers/merge.py``), flagged ``imported``. Rows hold no personal data, so erasing a
buyer's data keeps them (the counts of past days do not change).

This module only declares the table and writes rows; ``insights/`` reads them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, bindparam, false
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.inbound.prepared import run
from bot.models import Base

# buyer_events.kind
FOLLOW = "follow"
UNFOLLOW = "unfollow"
CARD_INVITED = "card_invited"  # shown the card's consent notice
CARD_CONSENTED = "card_consented"
CARD_CONFIRMED = "card_confirmed"
KINDS = (FOLLOW, UNFOLLOW, CARD_INVITED, CARD_CONSENTED, CARD_CONFIRMED)


class BuyerEvent(Base):
    __tablename__ = "buyer_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    # Written by the follower sync (followers/), not seen happen: a pre-Laoke follower's
    # follow dated at WeChat's subscribe_time, or a leave noticed at the sync.
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        # Per-bucket counts: a range of one kind, the buyer ids read from the index alone.
        Index("ix_buyer_events_kind_at", "kind", "at", "buyer_id"),
        # A buyer's state at a moment: their last follow/unfollow before it.
        Index("ix_buyer_events_buyer", "buyer_id", "kind", "at"),
    )


EVENTS = BuyerEvent.__table__


def record_event_sync(conn: Connection, buyer_id: int, kind: str, at: datetime) -> None:
    """One event, on the caller's connection and transaction (the webhook's claim)."""
    run(conn, _INSERT, {"buyer_id": buyer_id, "kind": kind, "at": at})


async def record_event(session: AsyncSession, buyer_id: int, kind: str, at: datetime) -> None:
    """One event, in the session's transaction (a handler's turn)."""
    await session.execute(_INSERT, {"buyer_id": buyer_id, "kind": kind, "at": at})


_INSERT = EVENTS.insert().values(
    buyer_id=bindparam("buyer_id"),
    kind=bindparam("kind"),
    at=bindparam("at", type_=EVENTS.c.at.type),
)
