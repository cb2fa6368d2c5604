"""Mirroring a saved segment as a WeChat tag: make sure the tag exists, then add the segment's
followers to it and take it off those who left the segment.

In two steps, so refusals come back at once and the long part can run in the background:

- :meth:`TagMirror.prepare` claims the mirror (``scheduler/segment_tags.py``) and makes sure
  the tag exists (``tags/get``, then ``tags/create``). It refuses, with a Chinese reason, what
  the platform would: a 101st tag (45056), a name over 30 characters (45158) or one another
  tag has (45157) — unless that tag is the one Laoke created in an attempt cut off before its
  id was stored, which is then reused. A tag deleted in the MP backend is created again.
- :meth:`TagMirror.fill` tags the segment's followers (subscribed, not opted out: a tag used
  for sending from the backend must not reach buyers who sent 退订) 50 per call and untags
  those who left it. A follower with 20 tags already (45059; the platform then refuses the
  whole call, so the batch is split until that follower is found) or no longer following
  (40003) is skipped and reported with the reason. Every batch commits its members and counts.

Calls are counted against ``[followers] tags_daily_quota``. This module does not run in the
background itself (``scheduler/segment_tags_api.py`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.database import dialect_insert
from bot.models import Buyer
from bot.wechat.client import WeChatAPI, WeChatAPIError, WeChatAPITimeout
from bot.wechat.quota import DailyCalls, QuotaExhausted
from bot.wechat.tags import (
    FOLLOWER_TAGS_FULL,
    MAX_TAGS,
    MAX_TAGS_PER_FOLLOWER,
    MEMBERS_BATCH,
    NAME_TAKEN,
    NAME_TOO_LONG,
    TOO_MANY_TAGS,
    create_tag,
    get_tags,
    tag_followers,
    untag_followers,
)
from scheduler.segment_tags import (
    DONE,
    FAILED,
    SAMPLE,
    Claimed,
    SegmentTag,
    SegmentTagMember,
    TagRefused,
    claim_mirror,
    forget_members,
    mirror_to_dict,
    name_taken,
    name_too_long,
    owner_of_tag,
    too_many_tags,
)
from scheduler.segments import compile_segment

log = logging.getLogger(__name__)

TAGS = "tags"
BAD_OPENID = 40003
FIRST_OWN_TAG_ID = 100  # ids below are the platform's own tags (2: 星标组)


@dataclass
class Prepared:
    segment_name: str
    spec: dict[str, Any]
    row_id: int
    tag_id: int


@dataclass
class Outcome:
    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (openid, reason)


class TagMirror:
    """Mirrors segments as tags through one WeChat API client, for one holder."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        api: WeChatAPI,
        clock: Clock,
        config: Config,
        *,
        holder: str,
    ) -> None:
        self.sessionmaker, self.api, self.clock = sessionmaker, api, clock
        self.holder = holder
        self.calls = DailyCalls({TAGS: config.followers.tags_daily_quota})

    async def _call(self, call: Callable[[], Awaitable[Any]]) -> Any:
        self.calls.take(TAGS, self.clock.now())
        return await call()

    # --- step 1: the tag ------------------------------------------------------------------
    async def prepare(self, segment_name: str, tag_name: str | None = None) -> Prepared:
        """Claim the mirror and make sure its tag exists (TagRefused, MirrorRunning,
        SegmentNotFound); a refusal is also recorded on the mapping, for the console."""
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            claimed = await claim_mirror(
                session, segment_name, now, holder=self.holder, tag_name=tag_name
            )
            await self.calls.load(session, now)
        try:
            tag_id = await self._ensure_tag(claimed)
        except BaseException as exc:
            await self._fail(claimed.row.id, exc)
            raise
        return Prepared(segment_name, claimed.segment.spec, claimed.row.id, tag_id)

    async def _ensure_tag(self, claimed: Claimed) -> int:
        row = claimed.row
        tags = await self._call(lambda: get_tags(self.api))
        by_id = {t.id: t for t in tags}
        if row.tag_id is not None:
            if row.tag_id in by_id:
                return row.tag_id
            log.info(
                "WeChat tag %s of segment %s is gone; creating it again",
                row.tag_id,
                claimed.segment.name,
            )
            async with self.sessionmaker() as session, session.begin():  # deleted in the MP backend
                await forget_members(session, row.id)
                await self._update(session, row.id, tag_id=None, members=0)
        same_name = next((t for t in tags if t.name == row.tag_name), None)
        if same_name is not None:
            async with self.sessionmaker() as session:
                owner = await owner_of_tag(session, same_name.id)
            if owner is not None or not row.creating:
                raise name_taken(row.tag_name, owner)
            async with self.sessionmaker() as session, session.begin():
                await self._update(session, row.id, tag_id=same_name.id, creating=False)
            return same_name.id  # created by an attempt cut off before its id was stored
        if sum(1 for t in tags if t.id >= FIRST_OWN_TAG_ID) >= MAX_TAGS:
            raise too_many_tags()
        async with self.sessionmaker() as session, session.begin():
            await self._update(session, row.id, creating=True)
        try:
            tag_id = await self._call(lambda: create_tag(self.api, row.tag_name))
        except WeChatAPIError as exc:
            refusal = {
                TOO_MANY_TAGS: too_many_tags,
                NAME_TAKEN: lambda: name_taken(row.tag_name, None),
                NAME_TOO_LONG: lambda: name_too_long(row.tag_name),
            }.get(exc.errcode or 0)
            if refusal is None:
                raise
            async with self.sessionmaker() as session, session.begin():
                await self._update(session, row.id, creating=False)
            raise refusal() from None
        async with self.sessionmaker() as session, session.begin():
            await self._update(session, row.id, tag_id=tag_id, creating=False)
        return tag_id

    # --- step 2: the members --------------------------------------------------------------
    async def fill(self, prepared: Prepared) -> dict[str, Any]:
        """Tag the segment's followers and untag those who left it; the mirror's state."""
        try:
            await self._fill(prepared)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._fail(prepared.row_id, None))
            raise
        except Exception as exc:  # recorded for the console, whatever it was
            await self._fail(prepared.row_id, exc)
        async with self.sessionmaker() as session:
            row = await session.get(SegmentTag, prepared.row_id)
            return mirror_to_dict(prepared.segment_name, row)

    async def _fill(self, prepared: Prepared) -> None:
        now = self.clock.now()
        async with self.sessionmaker() as session:
            where = compile_segment(prepared.spec, now)
            wanted = dict(
                (
                    await session.execute(
                        select(Buyer.openid, Buyer.wechat_tag_ids).where(
                            where, Buyer.subscribed.is_(True), Buyer.opted_out.is_(False)
                        )
                    )
                ).all()
            )
            current = set(
                await session.scalars(
                    select(SegmentTagMember.openid).where(
                        SegmentTagMember.tag_row_id == prepared.row_id
                    )
                )
            )
            leaving = sorted(current - wanted.keys())
            still_following = set(
                await session.scalars(
                    select(Buyer.openid).where(
                        Buyer.openid.in_(leaving), Buyer.subscribed.is_(True)
                    )
                )
            ) if leaving else set()  # fmt: skip
        # Who unfollowed lost the tag with it: forgotten without a call.
        gone = [o for o in leaving if o not in still_following]
        if gone:
            await self._members(prepared, removed=gone)
        for batch in _batches(sorted(still_following)):
            done = await self._apply(untag_followers, prepared.tag_id, batch)
            await self._members(prepared, removed=[*done.added, *(o for o, _ in done.skipped)])
        joining = sorted(wanted.keys() - current)
        full = [
            o for o in joining
            if len(wanted[o] or []) >= MAX_TAGS_PER_FOLLOWER
            and prepared.tag_id not in (wanted[o] or [])
        ]  # fmt: skip
        if full:
            await self._members(prepared, skipped=[(o, "tags_full") for o in full])
        full_set = set(full)
        for batch in _batches([o for o in joining if o not in full_set]):
            done = await self._apply(tag_followers, prepared.tag_id, batch)
            await self._members(prepared, added=done.added, skipped=done.skipped)
        async with self.sessionmaker() as session, session.begin():
            members = await session.scalar(
                select(func.count())
                .select_from(SegmentTagMember)
                .where(SegmentTagMember.tag_row_id == prepared.row_id)
            )
            await self._update(
                session, prepared.row_id, status=DONE, members=members or 0,
                finished_at=self.clock.now(),
            )  # fmt: skip

    async def _apply(self, call, tag_id: int, openids: Sequence[str]) -> Outcome:
        """(Un)tag `openids`; those the platform refuses one by one (a follower with 20 tags,
        one no longer following) are found by splitting the batch, and skipped."""
        outcome = Outcome()
        try:
            await self._call(lambda: call(self.api, tag_id, openids))
            outcome.added.extend(openids)
            return outcome
        except WeChatAPIError as exc:
            reason = {FOLLOWER_TAGS_FULL: "tags_full", BAD_OPENID: "not_following"}.get(
                exc.errcode or 0
            )
            if reason is None:
                raise
            if len(openids) == 1:
                outcome.skipped.append((openids[0], reason))
                return outcome
        half = len(openids) // 2
        for part in (openids[:half], openids[half:]):
            found = await self._apply(call, tag_id, part)
            outcome.added.extend(found.added)
            outcome.skipped.extend(found.skipped)
        return outcome

    async def _members(
        self,
        prepared: Prepared,
        *,
        added: Sequence[str] = (),
        removed: Sequence[str] = (),
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        """One batch's result: members rows, counts, skipped sample, heartbeat, call counts."""
        async with self.sessionmaker() as session, session.begin():
            table = SegmentTagMember.__table__
            if added:
                stmt = dialect_insert(session, SegmentTagMember).on_conflict_do_nothing()
                await session.execute(
                    stmt, [{"tag_row_id": prepared.row_id, "openid": o} for o in added]
                )
            if removed:
                await session.execute(
                    table.delete().where(
                        table.c.tag_row_id == prepared.row_id, table.c.openid.in_(list(removed))
                    )
                )
            row = await session.get(SegmentTag, prepared.row_id)
            row.added += len(added)
            row.removed += len(removed)
            row.skipped += len(skipped)
            room = SAMPLE - len(row.skipped_sample)
            if skipped and room > 0:
                row.skipped_sample = [
                    *row.skipped_sample,
                    *({"openid": o, "reason": r} for o, r in skipped[:room]),
                ]
            row.heartbeat_at = self.clock.now()
            await self.calls.flush(session)

    # --- bookkeeping ----------------------------------------------------------------------
    async def _update(self, session: AsyncSession, row_id: int, **values: Any) -> None:
        await session.execute(update(SegmentTag).where(SegmentTag.id == row_id).values(**values))

    async def _fail(self, row_id: int, exc: BaseException | None) -> None:
        """Record why the mirror stopped (a Chinese reason for the console)."""
        if isinstance(exc, TagRefused):
            reason = exc.message
        elif isinstance(exc, QuotaExhausted):
            reason = f"今日公众号标签接口调用次数已用完（{exc.limit:,} 次），请明天再同步"
        elif isinstance(exc, WeChatAPITimeout):
            reason = "暂时无法连接微信接口，请稍后重新同步"
        elif isinstance(exc, WeChatAPIError):
            reason = f"微信接口拒绝了请求（错误码 {exc.errcode}），请稍后重新同步"
        elif exc is None or isinstance(exc, asyncio.CancelledError):
            reason = "同步中断（服务停止），请重新同步"
        else:
            log.error("tag mirror failed", exc_info=exc)
            reason = "同步出错，请查看服务器日志后重新同步"
        async with self.sessionmaker() as session, session.begin():
            await self._update(
                session, row_id, status=FAILED, error=reason[:512], finished_at=self.clock.now()
            )
            await self.calls.flush(session)


def _batches(openids: Sequence[str]) -> list[Sequence[str]]:
    return [openids[i : i + MEMBERS_BATCH] for i in range(0, len(openids), MEMBERS_BATCH)]
