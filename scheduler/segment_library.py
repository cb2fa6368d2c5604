"""What the console's segment page reads and changes beyond ``saved_segments``: every saved
segment with its count and the campaigns using it, renaming (campaigns follow the new name),
deleting with the blocking campaigns named, and the values a field has with their counts.

Counts run in the database, one scan for all saved segments (a filtered COUNT per segment),
and one scan for the interest suggestions. This module does not render anything or know
about forms (``console/segment_builder.py``), and it does not send or schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from scheduler.json_lists import json_list_contains
from scheduler.models import CANCELLED, DONE, LIVESTREAM, Campaign
from scheduler.saved_segments import (
    Segment,
    SegmentExists,
    SegmentInUse,
    check_name,
    delete_segment,
    get_segment,
    list_segments,
)
from scheduler.segments import SegmentError, Vocabulary, compile_segment

# Values offered per field (the most common first); more would not help a picker.
MAX_SUGGESTIONS = 40
UNFINISHED = and_(Campaign.status.not_in((CANCELLED, DONE)))


@dataclass(frozen=True)
class CampaignRef:
    id: int
    name: str
    status: str


@dataclass(frozen=True)
class LibraryEntry:
    """A saved segment as the list shows it: how many buyers match now, who uses it."""

    segment: Segment
    matching: int | None  # None: the stored spec no longer compiles
    used_by: list[CampaignRef]


async def campaigns_using(session: AsyncSession, name: str) -> list[CampaignRef]:
    """Unfinished campaigns that read the saved segment `name` (they block deleting it)."""
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.status)
        .where(Campaign.segment_name == name, UNFINISHED)
        .order_by(Campaign.id)
    )
    return [CampaignRef(*row) for row in rows]


async def library(session: AsyncSession, now: datetime) -> list[LibraryEntry]:
    """Every saved segment by name, with its count (one scan for all) and its campaigns."""
    segments = await list_segments(session)
    counts: dict[int, int | None] = {}
    filters = []
    for segment in segments:
        try:
            filters.append((segment.id, compile_segment(segment.spec, now)))
        except SegmentError:
            counts[segment.id] = None
    if filters:
        row = (
            await session.execute(
                select(*(func.count().filter(cond) for _, cond in filters)).select_from(Buyer)
            )
        ).one()
        counts |= {seg_id: int(n or 0) for (seg_id, _), n in zip(filters, row, strict=True)}
    users: dict[str, list[CampaignRef]] = {}
    rows = await session.execute(
        select(Campaign.segment_name, Campaign.id, Campaign.name, Campaign.status)
        .where(Campaign.segment_name.is_not(None), UNFINISHED)
        .order_by(Campaign.id)
    )
    for name, *ref in rows:
        users.setdefault(name, []).append(CampaignRef(*ref))
    return [LibraryEntry(s, counts.get(s.id), users.get(s.name, [])) for s in segments]


async def rename_segment(session: AsyncSession, old: str, new: str, now: datetime) -> Segment:
    """Rename a saved segment; campaigns that use it follow (they refer to it by name).

    SegmentNotFound, SegmentError (bad name), SegmentExists (name taken)."""
    segment = await get_segment(session, old)
    if new == old:
        return segment
    check_name(new)
    if await session.scalar(select(Segment.id).where(Segment.name == new)) is not None:
        raise SegmentExists(f"a segment named {new!r} already exists")
    segment.name = new
    segment.updated_at = now
    await session.execute(
        update(Campaign).where(Campaign.segment_name == old).values(segment_name=new)
    )
    await session.flush()
    return segment


class SegmentBlocked(SegmentInUse):
    """Deleting was refused: `campaigns` still use the segment."""

    def __init__(self, name: str, campaigns: list[CampaignRef]) -> None:
        super().__init__(f"segment {name!r} is used by {len(campaigns)} unfinished campaign(s)")
        self.campaigns = campaigns


async def delete_unused_segment(session: AsyncSession, name: str) -> Segment:
    """Delete a saved segment, or SegmentBlocked naming the campaigns that still use it."""
    users = await campaigns_using(session, name)
    if users:
        raise SegmentBlocked(name, users)
    segment = await get_segment(session, name)
    await delete_segment(session, name)
    return segment


@dataclass(frozen=True)
class Suggestion:
    value: str
    count: int | None  # None: not counted (too costly or not meaningful)
    label: str = ""


async def suggestions(session: AsyncSession, vocabulary: Vocabulary) -> dict[str, list[Suggestion]]:
    """Values the enumerated fields take, most common first, with how many buyers have each.

    Column fields are GROUP BYs; interests are one scan with a filtered count per configured
    interest; campaigns for ``rsvp`` are livestreams, newest first."""
    out: dict[str, list[Suggestion]] = {}
    for field, column in (
        ("tier", Buyer.tier_key),
        ("business_type", Buyer.business_type),
        ("province", Buyer.province),
        ("city", Buyer.city),
    ):
        n = func.count().label("n")
        rows = await session.execute(
            select(column, n)
            .where(column.is_not(None))
            .group_by(column)
            .order_by(n.desc(), column)
            .limit(MAX_SUGGESTIONS)
        )
        out[field] = [Suggestion(str(value), int(count)) for value, count in rows]
    counted = {s.value for s in out["tier"]}
    out["tier"] += [Suggestion(t, 0) for t in vocabulary.tiers if t not in counted]
    interests = list(vocabulary.interests)
    if interests:
        row = (
            await session.execute(
                select(
                    *(
                        func.count().filter(json_list_contains(Buyer.interests, i))
                        for i in interests
                    )
                ).select_from(Buyer)
            )
        ).one()
        pairs = sorted(zip(interests, row, strict=True), key=lambda p: -int(p[1] or 0))
        out["interests"] = [Suggestion(i, int(n or 0)) for i, n in pairs]
    else:
        out["interests"] = []
    lives = await session.execute(
        select(Campaign.id, Campaign.name)
        .where(Campaign.kind == LIVESTREAM)
        .order_by(Campaign.id.desc())
        .limit(MAX_SUGGESTIONS)
    )
    out["rsvp"] = [Suggestion(str(cid), None, name) for cid, name in lives]
    return out


async def latest_livestream(session: AsyncSession) -> int | None:
    """The newest livestream campaign's id (the 直播预约者 starter uses it)."""
    return await session.scalar(
        select(Campaign.id).where(Campaign.kind == LIVESTREAM).order_by(Campaign.id.desc()).limit(1)
    )


def segment_snapshot(segment: Segment) -> dict[str, Any]:
    """What the audit log keeps of a segment."""
    return {"name": segment.name, "description": segment.description, "spec": segment.spec}
