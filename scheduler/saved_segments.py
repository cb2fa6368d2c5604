"""Saved segments (by unique name) and the preview: how many buyers match, and who.

Every function here checks the spec with ``scheduler/segments.py`` before storing it, so a
stored segment always compiles; the API and CLI call these same functions. Counting and
sampling run in the database (one COUNT and one LIMITed SELECT over one WHERE clause).
This module does not send or schedule anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, Buyer
from bot.wechat.channels import WINDOW
from scheduler.models import CANCELLED, DONE, Campaign
from scheduler.segments import SegmentError, Vocabulary, compile_segment

NAME_RE = re.compile(r"^[\w\-.·]{1,64}$")  # letters (incl. Chinese), digits, _ - . ·


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("name", name="uq_segments_name"),)


class SegmentNotFound(LookupError):
    """No saved segment has that name."""


class SegmentExists(ValueError):
    """A saved segment already has that name."""


class SegmentInUse(ValueError):
    """A campaign that may still send reads this segment."""


@dataclass(frozen=True)
class Counts:
    """How many buyers a segment matches now, and how a campaign would reach them."""

    matching: int
    # Subscribed and not opted out: who a campaign to this segment writes to.
    reachable: int
    # Of those, inside WeChat's 48-hour window: reached by a customer-service message; the
    # others only by a template message (when the campaign has one) or not at all.
    in_window: int


@dataclass(frozen=True)
class Preview:
    """The counts of a segment now, and the first few buyers it matches."""

    counts: Counts
    sample: list[Buyer]


def check_name(name: str) -> None:
    """Refuse names that would be awkward in a URL or a shell (SegmentError on ``name``)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SegmentError("name", "must be 1-64 letters, digits, '_', '-', '.' or '·'")


async def create_segment(
    session: AsyncSession,
    name: str,
    spec: dict[str, Any],
    now: datetime,
    description: str = "",
    *,
    vocabulary: Vocabulary | None = None,
) -> Segment:
    """Save a new segment; SegmentError for a bad spec, SegmentExists for a taken name."""
    check_name(name)
    compile_segment(spec, now, vocabulary)
    segment = Segment(name=name, description=description, spec=spec, created_at=now, updated_at=now)
    try:
        # A savepoint, so a taken name leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(segment)
    except IntegrityError:
        raise SegmentExists(f"a segment named {name!r} already exists") from None
    return segment


async def update_segment(
    session: AsyncSession,
    name: str,
    now: datetime,
    spec: dict[str, Any] | None = None,
    description: str | None = None,
    *,
    vocabulary: Vocabulary | None = None,
) -> Segment:
    """Change a saved segment's spec and/or description (campaigns see it at their next step)."""
    segment = await get_segment(session, name)
    if spec is not None:
        compile_segment(spec, now, vocabulary)
        segment.spec = spec
    if description is not None:
        segment.description = description
    segment.updated_at = now
    await session.flush()
    return segment


async def get_segment(session: AsyncSession, name: str) -> Segment:
    """The saved segment called `name` (SegmentNotFound otherwise)."""
    segment = await session.scalar(select(Segment).where(Segment.name == name))
    if segment is None:
        raise SegmentNotFound(f"no segment named {name!r}")
    return segment


async def list_segments(session: AsyncSession) -> list[Segment]:
    """Every saved segment, by name."""
    return list(await session.scalars(select(Segment).order_by(Segment.name)))


async def delete_segment(session: AsyncSession, name: str) -> None:
    """Delete a saved segment no unfinished campaign uses (SegmentNotFound, SegmentInUse)."""
    users = list(
        await session.scalars(
            select(Campaign.id).where(
                Campaign.segment_name == name, Campaign.status.not_in((CANCELLED, DONE))
            )
        )
    )
    if users:
        ids = ", ".join(str(i) for i in users)
        raise SegmentInUse(f"segment {name!r} is used by unfinished campaign(s) {ids}")
    result = await session.execute(delete(Segment).where(Segment.name == name))
    if not result.rowcount:
        raise SegmentNotFound(f"no segment named {name!r}")


async def count_segment(session: AsyncSession, spec: dict[str, Any], now: datetime) -> Counts:
    """How many buyers match `spec` now, reachable and in the window (one scan, three counts)."""
    return await _counts(session, compile_segment(spec, now), now)


async def _counts(session: AsyncSession, where: ColumnElement[bool], now: datetime) -> Counts:
    reachable = and_(Buyer.subscribed.is_(True), Buyer.opted_out.is_(False))
    in_window = and_(reachable, Buyer.last_interaction_at > now - WINDOW)  # as the sender
    matching, can, window = (
        await session.execute(
            select(func.count(), func.count().filter(reachable), func.count().filter(in_window))
            .select_from(Buyer)
            .where(where)
        )
    ).one()
    return Counts(int(matching), int(can or 0), int(window or 0))


async def preview_segment(
    session: AsyncSession,
    spec: dict[str, Any],
    now: datetime,
    sample_size: int = 10,
    *,
    vocabulary: Vocabulary | None = None,
) -> Preview:
    """The segment's counts and the first `sample_size` buyers it matches (by id)."""
    where = compile_segment(spec, now, vocabulary)
    counts = await _counts(session, where, now)
    sample = await session.scalars(
        select(Buyer).where(where).order_by(Buyer.id).limit(max(0, sample_size))
    )
    return Preview(counts, list(sample))


def buyer_summary(buyer: Buyer, now: datetime) -> dict[str, Any]:
    """What a preview shows of a buyer (no phone number: previews get pasted around)."""
    last = buyer.last_interaction_at
    return {
        "id": buyer.id,
        "openid": buyer.openid,
        "name": buyer.display_name,
        "company": buyer.company,
        "tier": buyer.tier_key,
        "business_type": buyer.business_type,
        "region": " ".join(p for p in (buyer.province, buyer.city) if p) or None,
        "orders_total": buyer.orders_total,
        "spend_12m": buyer.spend_12m,
        "days_since_interaction": None if last is None else (now - last).days,
        "subscribed": buyer.subscribed,
        "opted_out": buyer.opted_out,
    }
