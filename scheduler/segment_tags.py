"""A saved segment mirrored as a WeChat tag, for suppliers who also send from the platform's
own backend (群发 to a tag): the mapping segment → tag, its members, and who may run it.

``segment_wechat_tags`` holds one row per mirrored segment: the tag's name and id, the state of
the last mirror (running, done, failed, with a Chinese reason), its counts (members, added,
removed, skipped) and a sample of the followers skipped with why.
``segment_wechat_tag_members`` holds who Laoke has put the tag on, so a re-sync adds new
members and removes leavers without listing the tag's followers from WeChat. Deleting the
segment deletes its mapping (the tag itself stays on the platform).

:func:`claim_mirror` checks what can be checked before any call — the tag name's length
(≤ 30), a name that cannot change once the tag exists — and makes sure only one mirror of a
segment runs at a time. The WeChat calls are ``scheduler/segment_tag_mirror.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, Buyer
from bot.wechat.tags import MAX_NAME, MAX_TAGS
from scheduler.saved_segments import Segment, get_segment

IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"
STALE_AFTER = timedelta(minutes=2)  # a running mirror this long without progress has died
SAMPLE = 50  # skipped followers kept with their reason


class SegmentTag(Base):
    __tablename__ = "segment_wechat_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), unique=True
    )
    tag_name: Mapped[str] = mapped_column(String(64))
    tag_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # tags/create was called and its answer never stored (a timeout, a crash): a tag of this
    # name found on the platform later is the one Laoke created.
    creating: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=IDLE)
    holder: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    members: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # [{"openid", "reason"}], at most SAMPLE; reason is a key of SKIP_REASONS.
    skipped_sample: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(512), default=None)  # for staff, Chinese


class SegmentTagMember(Base):
    """A follower Laoke has put the segment's tag on."""

    __tablename__ = "segment_wechat_tag_members"

    tag_row_id: Mapped[int] = mapped_column(
        ForeignKey("segment_wechat_tags.id", ondelete="CASCADE"), primary_key=True
    )
    openid: Mapped[str] = mapped_column(String(64), primary_key=True)


SKIP_REASONS = {
    "tags_full": "该粉丝已有 20 个标签（公众号上限）",
    "not_following": "已取消关注或 openid 无效",
}


class TagRefused(Exception):
    """The mirror cannot be made as asked; ``message`` is for staff (Chinese), ``reason`` a
    stable key for the API, ``english`` for the API's error."""

    def __init__(self, reason: str, message: str, english: str) -> None:
        super().__init__(f"{english} ({message})")
        self.reason, self.message, self.english = reason, message, english


class MirrorRunning(Exception):
    """A mirror of this segment runs now."""

    def __init__(self, row: SegmentTag) -> None:
        super().__init__("this segment's tag is being synced")
        self.row = row


def name_too_long(name: str) -> TagRefused:
    return TagRefused(
        "name_too_long",
        f"公众号标签名最多 {MAX_NAME} 个字，「{name}」有 {len(name)} 个字，请填写一个较短的标签名",
        f"tag_name: at most {MAX_NAME} characters (this one has {len(name)})",
    )


def too_many_tags() -> TagRefused:
    return TagRefused(
        "too_many_tags",
        f"公众号的标签已达 {MAX_TAGS} 个上限，请先在公众号后台删除不再使用的标签",
        f"the account already has {MAX_TAGS} tags, the platform's limit",
    )


def name_taken(name: str, owner: str | None) -> TagRefused:
    whose = f"已被分群「{owner}」使用" if owner else "不是老客创建的"
    return TagRefused(
        "name_taken",
        f"公众号里已有名为「{name}」的标签（{whose}），请换一个标签名",
        f"the account already has a tag named {name!r}"
        + (f" (segment {owner!r} uses it)" if owner else " (not created by Laoke)"),
    )


def check_tag_name(name: str) -> str:
    """The tag name as it will be created (trimmed), or TagRefused."""
    name = name.strip()
    if not name:
        raise TagRefused("name_empty", "请填写标签名", "tag_name: must not be empty")
    if len(name) > MAX_NAME:
        raise name_too_long(name)
    return name


async def mirror_of(session: AsyncSession, segment_name: str) -> tuple[Segment, SegmentTag | None]:
    """The saved segment (SegmentNotFound) and its mapping, if it was ever mirrored."""
    segment = await get_segment(session, segment_name)
    row = await session.scalar(select(SegmentTag).where(SegmentTag.segment_id == segment.id))
    return segment, row


async def owner_of_tag(session: AsyncSession, tag_id: int) -> str | None:
    """The name of the segment mirrored as tag `tag_id`, if any."""
    return await session.scalar(
        select(Segment.name)
        .join(SegmentTag, SegmentTag.segment_id == Segment.id)
        .where(SegmentTag.tag_id == tag_id)
    )


@dataclass(frozen=True)
class Claimed:
    segment: Segment
    row: SegmentTag


async def claim_mirror(
    session: AsyncSession,
    segment_name: str,
    now: datetime,
    *,
    holder: str,
    tag_name: str | None = None,
) -> Claimed:
    """Mark the segment's mirror running for `holder` (creating the mapping the first time).

    SegmentNotFound, TagRefused (a bad name; renaming an existing tag), MirrorRunning."""
    segment, row = await mirror_of(session, segment_name)
    if row is not None and row.status == RUNNING and row.heartbeat_at is not None:
        if now - row.heartbeat_at < STALE_AFTER:
            raise MirrorRunning(row)
    wanted = check_tag_name(tag_name if tag_name else segment.name[:MAX_NAME])
    if row is None:
        row = SegmentTag(segment_id=segment.id, tag_name=wanted, created_at=now)
        session.add(row)
    elif row.tag_id is not None and tag_name and wanted != row.tag_name:
        raise TagRefused(
            "renamed",
            f"此分群已同步为公众号标签「{row.tag_name}」，标签名不能更改",
            f"this segment is mirrored as the tag {row.tag_name!r}; its name cannot change",
        )
    elif row.tag_id is None and row.tag_name != wanted:
        row.tag_name, row.creating = wanted, False  # another name: nothing of ours has it
    row.status, row.holder, row.error = RUNNING, holder, None
    row.started_at = row.heartbeat_at = now
    row.finished_at = None
    row.added = row.removed = row.skipped = 0
    row.skipped_sample = []
    await session.flush()
    return Claimed(segment, row)


async def forget_members(session: AsyncSession, row_id: int) -> None:
    """The tag is gone from the platform: nobody carries it any more."""
    await session.execute(delete(SegmentTagMember).where(SegmentTagMember.tag_row_id == row_id))


async def skipped_buyers(
    session: AsyncSession, sample: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The skipped followers of a sample as staff see them: buyer id, name, reason."""
    openids = [s["openid"] for s in sample]
    rows = await session.execute(
        select(Buyer.openid, Buyer.id, Buyer.display_name, Buyer.company).where(
            Buyer.openid.in_(openids)
        )
    )
    found = {r.openid: r for r in rows}
    return [
        {
            "buyer_id": found[s["openid"]].id if s["openid"] in found else None,
            "name": (found[s["openid"]].display_name or found[s["openid"]].company)
            if s["openid"] in found
            else None,
            "reason": SKIP_REASONS.get(s["reason"], ""),
        }
        for s in sample
    ]


def mirror_to_dict(segment_name: str, row: SegmentTag | None) -> dict[str, Any]:
    """A segment's tag mirror as the API and the CLI show it."""
    if row is None:
        return {"segment": segment_name, "status": "never", "tag_id": None, "tag_name": None}

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "segment": segment_name,
        "tag_name": row.tag_name,
        "tag_id": row.tag_id,
        "status": row.status,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "members": row.members,
        "added": row.added,
        "removed": row.removed,
        "skipped": row.skipped,
        "skipped_sample": [
            s | {"reason_text": SKIP_REASONS.get(s.get("reason"), "")} for s in row.skipped_sample
        ],
        "error": row.error,
    }
