"""Running one follower sync job, phase by phase, from wherever it stopped.

1. **listing** — ``user/get`` page after page (10,000 openids each) into the job's listing,
   from the ``next_openid`` checkpoint; the empty page after the last ends it.
2. **detailing** — the listed openids in openid order, 100 per ``user/info/batchget`` (a few
   calls in flight at once, their answers committed together), merged into the buyer book
   (``followers/merge.py``) from the ``detail_after`` checkpoint. A
   batch WeChat refuses for a bad openid (40003) is split until the bad ones are found; those
   count as ``errors`` and are left as they are.
3. **leavers** — only now that the listing is complete: buyers missing from it are marked
   unsubscribed, a chunk at a time.

Every page, batch and chunk commits its rows, the job's counts and checkpoint, the API calls it
made (``bot/wechat/quota.py``) and renews the lease in one transaction: a job cut off anywhere
(a crash, SIGKILL, a cancelled task) loses at most the call in flight, and a rerun of a page or
batch writes nothing twice. The job ends ``done``; or ``paused`` when the day's quota is spent
(resumed after midnight, Beijing time), ``interrupted`` when WeChat cannot be reached or the
process stops (resumed), ``failed`` when WeChat refuses the calls (resumed only when someone
starts a sync again) — each with a Chinese reason for staff.

It never slows the webhook: each transaction is short (a few hundred buyers), and the loop
yields to the event loop between them. This module does not decide when syncs run (``followers/runner.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import FollowersConfig
from bot.count_cache import invalidate_from
from bot.database import dialect_insert
from bot.leases import release_lease
from bot.models import Lease
from bot.wechat.client import BUSY_ERRORS, WeChatAPI, WeChatAPIError, WeChatAPITimeout
from bot.wechat.followers import INFO_BATCH, FollowerInfo, followers_info, list_followers
from bot.wechat.quota import DailyCalls, QuotaExhausted
from followers.jobs import LEASE, STALE_AFTER, purge_listings
from followers.merge import mark_leavers, merge_followers
from followers.models import (
    DETAILING,
    DONE,
    FAILED,
    FINISHED,
    INTERRUPTED,
    LEAVERS,
    LISTING,
    PAUSED,
    STOPPED_REASON,
    FollowerSyncJob,
    ListedFollower,
)

log = logging.getLogger(__name__)

USER_GET, BATCHGET = "user/get", "user/info/batchget"
READ_AHEAD = 2000  # listed openids read per query in the details phase
# batchget calls in flight at once; their answers are merged and committed together.
CALLS_IN_FLIGHT = 4
BAD_OPENID = 40003
# What staff are told when WeChat refuses (errcode → reason); others name the code.
REFUSALS = {
    40001: "公众号的 AppSecret 不正确或 access_token 无效，请检查服务器配置",
    40013: "公众号的 AppID 不正确，请检查服务器配置",
    40164: "服务器 IP 不在公众号的 IP 白名单中（公众号后台 → 基本配置 → IP白名单）",
    48001: "公众号没有获取用户列表的接口权限（需认证的公众号）",
    50001: "公众号未获得该接口的授权",
}

# Told of every checkpoint (the CLI prints it); may be a coroutine function.
Progress = Callable[[FollowerSyncJob], Any]


class LostLease(Exception):
    """Another process took the sync over (it judged this one dead): stop quietly."""


# The columns a checkpoint writes (everything the run changes on the job row).
_CHECKPOINT = (
    "status", "phase", "total", "listed", "detailed", "created", "updated", "left_count",
    "errors", "next_openid", "detail_after", "calls_list", "calls_detail",
    "earliest_event_at", "heartbeat_at", "finished_at", "error",
)  # fmt: skip


class FollowerSync:
    """Runs claimed jobs for one holder (see ``followers/jobs.py``)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        api: WeChatAPI,
        clock: Clock,
        config: FollowersConfig,
        *,
        holder: str,
        progress: Progress | None = None,
        pause_s: float = 0.0,
    ) -> None:
        self.sessionmaker, self.api, self.clock = sessionmaker, api, clock
        self.holder = holder
        self.progress = progress
        self.pause_s = pause_s
        self.calls = DailyCalls(
            {USER_GET: config.user_get_daily_quota, BATCHGET: config.batchget_daily_quota}
        )

    # --- the run --------------------------------------------------------------------------
    async def run(self, job: FollowerSyncJob) -> FollowerSyncJob:
        """Run the claimed `job` to its end (or to a stop it records); the job as it ended.
        The lease is given back in any case."""
        try:
            async with self.sessionmaker() as session:
                await self.calls.load(session, self.clock.now())
            if job.phase == LISTING:
                await self._list(job)
            if job.phase == DETAILING:
                await self._detail(job)
            if job.phase == LEAVERS:
                await self._leavers(job)
            await self._stop(job, DONE, None, phase=FINISHED)
            log.info("follower sync %s done: %s", job.id, _summary(job))
        except LostLease:
            log.warning("follower sync %s was taken over by another process", job.id)
        except QuotaExhausted as exc:
            reason = (
                f"今日「{exc.api}」接口调用次数已用完（{exc.limit:,} 次），北京时间零点后自动继续"
            )
            await self._stop(job, PAUSED, reason)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._stop(job, INTERRUPTED, STOPPED_REASON))
            raise
        except WeChatAPIError as exc:
            await self._stop(job, *_stopped_by(exc))
        except Exception:  # the job must end recorded, whatever went wrong
            log.exception("follower sync %s failed", job.id)
            await self._stop(job, FAILED, "同步出错，请查看服务器日志后重新同步")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(release_lease(self.sessionmaker, LEASE, self.holder))
        if job.status == DONE:
            await purge_listings(self.sessionmaker)
        return job

    async def _list(self, job: FollowerSyncJob) -> None:
        while True:
            self.calls.take(USER_GET, self.clock.now())
            page = await list_followers(self.api, job.next_openid or "")
            async with self._checkpoint(job) as session:
                job.calls_list += 1
                job.total = page.total
                if page.openids:
                    stmt = dialect_insert(session, ListedFollower).on_conflict_do_nothing()
                    await session.execute(
                        stmt, [{"job_id": job.id, "openid": o} for o in page.openids]
                    )
                    job.listed += len(page.openids)
                if page.last or not page.next_openid or page.next_openid == job.next_openid:
                    job.phase = DETAILING
                else:
                    job.next_openid = page.next_openid
            if job.phase != LISTING:
                return
            await asyncio.sleep(self.pause_s)

    async def _detail(self, job: FollowerSyncJob) -> None:
        while True:
            async with self.sessionmaker() as session:
                query = select(ListedFollower.openid).where(ListedFollower.job_id == job.id)
                if job.detail_after is not None:
                    query = query.where(ListedFollower.openid > job.detail_after)
                ahead = list(
                    await session.scalars(query.order_by(ListedFollower.openid).limit(READ_AHEAD))
                )
            if not ahead:
                async with self._checkpoint(job):
                    job.phase = LEAVERS
                return
            step = INFO_BATCH * CALLS_IN_FLIGHT
            for start in range(0, len(ahead), step):
                group = ahead[start : start + step]
                batches = [group[i : i + INFO_BATCH] for i in range(0, len(group), INFO_BATCH)]
                answers = await asyncio.gather(*(self._details(job, b) for b in batches))
                infos = [info for found, _ in answers for info in found]
                async with self._checkpoint(job) as session:
                    merged = await merge_followers(
                        session, infos, now=self.clock.now(), listing_started=job.created_at
                    )
                    if merged.not_following:  # left since the listing: not in it any more
                        await session.execute(
                            ListedFollower.__table__.delete().where(
                                ListedFollower.job_id == job.id,
                                ListedFollower.openid.in_(merged.not_following),
                            )
                        )
                    job.detailed += len(group)
                    job.created += merged.created
                    job.updated += merged.updated
                    job.errors += sum(bad for _, bad in answers)
                    job.detail_after = group[-1]
                    if merged.earliest_event is not None and (
                        job.earliest_event_at is None
                        or merged.earliest_event < job.earliest_event_at
                    ):
                        job.earliest_event_at = merged.earliest_event
                await asyncio.sleep(self.pause_s)

    async def _details(
        self, job: FollowerSyncJob, openids: Sequence[str]
    ) -> tuple[list[FollowerInfo], int]:
        """Details of `openids`, and how many WeChat refused as bad openids (found by halving
        the batch, a few calls more, rather than losing 99 good followers with one bad one)."""
        self.calls.take(BATCHGET, self.clock.now())
        job.calls_detail += 1  # stored with the batch's checkpoint
        try:
            return await followers_info(self.api, openids), 0
        except WeChatAPIError as exc:
            if exc.errcode != BAD_OPENID:
                raise
            if len(openids) == 1:
                log.warning("follower sync: WeChat refuses an openid as invalid")
                return [], 1
        half = len(openids) // 2
        first, bad_first = await self._details(job, openids[:half])
        second, bad_second = await self._details(job, openids[half:])
        return first + second, bad_first + bad_second

    async def _leavers(self, job: FollowerSyncJob) -> None:
        while True:
            async with self._checkpoint(job) as session:
                marked = await mark_leavers(
                    session, job.id, listing_started=job.created_at, now=self.clock.now()
                )
                job.left_count += marked
            if not marked:
                return
            await asyncio.sleep(self.pause_s)

    # --- checkpoints ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _checkpoint(self, job: FollowerSyncJob):
        """One transaction: the caller's writes, then the job row, the call counts and the
        lease (LostLease when another process holds the job now: nothing is committed)."""
        async with self.sessionmaker() as session, session.begin():
            yield session
            now = self.clock.now()
            job.heartbeat_at = now
            await self._save(session, job)
            await self.calls.flush(session)
            await session.execute(
                update(Lease)
                .where(Lease.name == LEASE, Lease.holder == self.holder)
                .values(expires_at=now + STALE_AFTER)
            )
        if self.progress is not None and inspect.isawaitable(shown := self.progress(job)):
            await shown

    async def _save(self, session: AsyncSession, job: FollowerSyncJob) -> None:
        result = await session.execute(
            update(FollowerSyncJob)
            .where(FollowerSyncJob.id == job.id, FollowerSyncJob.holder == self.holder)
            .values({name: getattr(job, name) for name in _CHECKPOINT})
        )
        if result.rowcount != 1:
            raise LostLease()

    async def _stop(
        self, job: FollowerSyncJob, status: str, error: str | None, *, phase: str | None = None
    ) -> None:
        """Record how the run ended (a finished job also retakes the dashboard's counts the
        imported events change)."""
        job.status, job.error = status, error
        job.finished_at = self.clock.now()
        if phase is not None:
            job.phase = phase
        if status != DONE:
            log.warning("follower sync %s %s: %s", job.id, status, error)
        try:
            async with self._checkpoint(job) as session:
                if status == DONE and job.earliest_event_at is not None:
                    await invalidate_from(session, job.earliest_event_at)
        except LostLease:
            pass


def _stopped_by(exc: WeChatAPIError) -> tuple[str, str]:
    """The status and reason of a run WeChat stopped."""
    if isinstance(exc, WeChatAPITimeout) or exc.errcode in BUSY_ERRORS - {45009}:
        return INTERRUPTED, "暂时无法连接微信接口，稍后自动继续"
    if exc.errcode == 45009:
        return PAUSED, "微信接口今日调用次数已达上限，北京时间零点后自动继续"
    reason = REFUSALS.get(exc.errcode or 0, "微信接口拒绝了请求")
    return FAILED, f"{reason}（错误码 {exc.errcode}）"


def _summary(job: FollowerSyncJob) -> str:
    return (
        f"{job.listed} listed, {job.created} created, {job.updated} updated, "
        f"{job.left_count} left, {job.errors} errors, "
        f"{job.calls_list}+{job.calls_detail} calls"
    )
