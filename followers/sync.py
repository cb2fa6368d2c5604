"""Running one follower sync job, phase by phase, from wherever it stopped.

1. **listing** — ``user/get`` page after page (10,000 openids each) into the job's listing,
   from the ``next_openid`` checkpoint; the empty page after the last ends it.
2. **detailing** — the listed openids in openid order, 100 per ``user/info/batchget`` (a few
   calls in flight at once, each answer committed on its own), merged into the buyer book
   (``followers/merge.py``) from the ``detail_after`` checkpoint. A
   batch WeChat refuses for a bad openid (40003) is split until the bad ones are found; those
   count as ``errors`` and are left as they are.
3. **leavers** — only now that the listing is complete: buyers missing from it are marked
   unsubscribed, a chunk at a time.

Every page, batch and chunk commits its rows, the job's counts and checkpoint, the API calls it
made (``bot/wechat/quota.py``) and renews the lease in one transaction: a job cut off anywhere
(a crash, SIGKILL, a cancelled task) loses at most the calls in flight, and a rerun of a page
or batch writes nothing twice. The job ends ``done``; or ``paused`` when the day's quota is spent
(resumed after midnight, Beijing time), ``interrupted`` when WeChat cannot be reached or the
process stops (resumed), ``failed`` when WeChat refuses the calls (resumed only when someone
starts a sync again) — each with a Chinese reason for staff.

It keeps out of the webhook's way: what a batch reads is read before its transaction, and its
writes go through a group-commit writer of its own (``bot/inbound/groupcommit.py``) — on
SQLite one short transaction on the loop's own connection, or in a thread when the database is
locked — so the one write lock is held for the milliseconds the SQL takes, not for a round of
driver hops; each transaction is 100 buyers, and the loop yields between them. This module does not decide when syncs run (``followers/runner.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import FollowersConfig
from bot.count_cache import invalidate_from
from bot.inbound.groupcommit import GroupCommit
from bot.leases import release_lease
from bot.models import Lease
from bot.wechat.client import BUSY_ERRORS, WeChatAPI, WeChatAPIError, WeChatAPITimeout
from bot.wechat.followers import INFO_BATCH, FollowerInfo, followers_info, list_followers
from bot.wechat.quota import DailyCalls, QuotaExhausted, add_calls
from followers.jobs import LEASE, STALE_AFTER, purge_listings
from followers.merge import (
    find_leavers,
    forget_listed,
    mark_left,
    merge_followers,
    read_known,
)
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
# batchget calls in flight at once (WeChat answers in tens of milliseconds each).
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


# The columns a checkpoint writes (the run's progress on the job row).
_CHECKPOINT = (
    "phase", "total", "listed", "detailed", "created", "updated", "left_count", "errors",
    "next_openid", "detail_after", "calls_list", "calls_detail", "earliest_event_at",
)  # fmt: skip
JOBS = FollowerSyncJob.__table__
LEASES = Lease.__table__
INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# A batch's writes on the writer's connection; returns the job's new checkpoint values.
Step = Callable[[Connection, dict[str, Any]], dict[str, Any]]


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
    ) -> None:
        self.sessionmaker, self.api, self.clock = sessionmaker, api, clock
        self.holder = holder
        self.progress = progress
        self.calls = DailyCalls(
            {USER_GET: config.user_get_daily_quota, BATCHGET: config.batchget_daily_quota}
        )
        self.writer: GroupCommit | None = None

    # --- the run --------------------------------------------------------------------------
    async def run(self, job: FollowerSyncJob) -> FollowerSyncJob:
        """Run the claimed `job` to its end (or to a stop it records); the job as it ended.
        The lease is given back in any case."""
        self.writer = GroupCommit(self.sessionmaker.kw["bind"])
        self.writer.start()
        try:
            async with self.sessionmaker() as session:
                await self.calls.load(session, self.clock.now())
            if job.phase == LISTING:
                await self._list(job)
            if job.phase == DETAILING:
                await self._detail(job)
            if job.phase == LEAVERS:
                await self._leavers(job)
            await self._stop(job, DONE, None)
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
                await asyncio.shield(self._finish())
        if job.status == DONE:
            await purge_listings(self.sessionmaker)
        return job

    async def _finish(self) -> None:
        """Let the writer commit what it holds, then give the lease back."""
        if self.writer is not None:
            await self.writer.close()
        await release_lease(self.sessionmaker, LEASE, self.holder)

    async def _list(self, job: FollowerSyncJob) -> None:
        while True:
            self.calls.take(USER_GET, self.clock.now())
            page = await list_followers(self.api, job.next_openid or "")

            def step(conn: Connection, base: dict[str, Any], page=page) -> dict[str, Any]:
                if page.openids:
                    conn.execute(
                        INSERTS[conn.dialect.name](ListedFollower).on_conflict_do_nothing(),
                        [{"job_id": job.id, "openid": o} for o in page.openids],
                    )
                done = page.last or not page.next_openid or page.next_openid == base["next_openid"]
                return {
                    "total": page.total,
                    "listed": base["listed"] + len(page.openids),
                } | ({"phase": DETAILING} if done else {"next_openid": page.next_openid})

            await self._commit(job, step)
            if job.phase != LISTING:
                return
            await asyncio.sleep(0)  # let the webhook in

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
                await self._commit(job, lambda conn, base: {"phase": LEAVERS})
                return
            step = INFO_BATCH * CALLS_IN_FLIGHT
            for start in range(0, len(ahead), step):
                group = ahead[start : start + step]
                batches = [group[i : i + INFO_BATCH] for i in range(0, len(group), INFO_BATCH)]
                answers = await asyncio.gather(*(self._details(b) for b in batches))
                # One transaction per batch of 100: the write lock and the event loop are held
                # only briefly, so the webhook's messages pass between them.
                for batch, (infos, bad) in zip(batches, answers, strict=True):
                    await self._merge(job, batch, infos, bad)
                    await asyncio.sleep(0)  # let the webhook in

    async def _merge(
        self,
        job: FollowerSyncJob,
        batch: Sequence[str],
        infos: list[FollowerInfo],
        bad: int,
    ) -> None:
        """Store one batch's details and move the checkpoint past it."""
        async with self.sessionmaker() as session:  # reads only: no lock held
            known = await read_known(session, infos)
        now = self.clock.now()

        def step(conn: Connection, base: dict[str, Any]) -> dict[str, Any]:
            merged = merge_followers(conn, infos, known, now=now, listing_started=job.created_at)
            forget_listed(conn, job.id, merged.not_following)
            earliest = base["earliest_event_at"]
            if merged.earliest_event is not None and (
                earliest is None or merged.earliest_event < earliest
            ):
                earliest = merged.earliest_event
            return {
                "detailed": base["detailed"] + len(batch),
                "created": base["created"] + merged.created,
                "updated": base["updated"] + merged.updated,
                "errors": base["errors"] + bad,
                "detail_after": batch[-1],
                "earliest_event_at": earliest,
            }

        await self._commit(job, step)

    async def _details(self, openids: Sequence[str]) -> tuple[list[FollowerInfo], int]:
        """Details of `openids`, and how many WeChat refused as bad openids (found by halving
        the batch, a few calls more, rather than losing 99 good followers with one bad one)."""
        self.calls.take(BATCHGET, self.clock.now())
        try:
            return await followers_info(self.api, openids), 0
        except WeChatAPIError as exc:
            if exc.errcode != BAD_OPENID:
                raise
            if len(openids) == 1:
                log.warning("follower sync: WeChat refuses an openid as invalid")
                return [], 1
        half = len(openids) // 2
        first, bad_first = await self._details(openids[:half])
        second, bad_second = await self._details(openids[half:])
        return first + second, bad_first + bad_second

    async def _leavers(self, job: FollowerSyncJob) -> None:
        while True:
            async with self.sessionmaker() as session:  # a scan: read before the transaction
                ids = await find_leavers(session, job.id, job.created_at)
            if not ids:
                return
            now = self.clock.now()

            def step(conn: Connection, base: dict[str, Any], ids=ids, now=now) -> dict[str, Any]:
                left = mark_left(conn, job.id, ids, listing_started=job.created_at, now=now)
                return {"left_count": base["left_count"] + left}

            await self._commit(job, step)
            await asyncio.sleep(0)  # let the webhook in

    # --- checkpoints ----------------------------------------------------------------------
    async def _commit(self, job: FollowerSyncJob, step: Step) -> None:
        """One transaction through the writer: `step` (the batch's rows; it returns the job's
        new values, computed from the checkpoint `base` it is given), then the job row, the
        API calls made and the lease. LostLease when another process holds the job now."""
        now = self.clock.now()
        base = {name: getattr(job, name) for name in _CHECKPOINT}
        day, calls = self.calls.take_unflushed()

        def work(conn: Connection) -> dict[str, Any]:
            values = base | step(conn, base) | {"heartbeat_at": now}
            # Every call made since the last checkpoint (those of batches still to be stored
            # included: a call made is a call spent, even if its answer is lost).
            values["calls_list"] = base["calls_list"] + calls.get(USER_GET, 0)
            values["calls_detail"] = base["calls_detail"] + calls.get(BATCHGET, 0)
            saved = conn.execute(
                update(JOBS).where(JOBS.c.id == job.id, JOBS.c.holder == self.holder).values(values)
            )
            if saved.rowcount != 1:
                raise LostLease()
            add_calls(conn, day, calls)
            conn.execute(
                update(LEASES)
                .where(LEASES.c.name == LEASE, LEASES.c.holder == self.holder)
                .values(expires_at=now + STALE_AFTER)
            )
            return values

        assert self.writer is not None
        try:
            values = await self.writer.run(work)
        except BaseException:
            self.calls.restore(calls)
            raise
        for name, value in values.items():
            setattr(job, name, value)
        if self.progress is not None and inspect.isawaitable(shown := self.progress(job)):
            await shown

    async def _stop(self, job: FollowerSyncJob, status: str, error: str | None) -> None:
        """Record how the run ended; only its state (the counts are the last checkpoint's).
        A finished job also retakes the dashboard's counts its imported events change."""
        now = self.clock.now()
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": now}
        if status == DONE:
            values["phase"] = FINISHED
        if status != DONE:
            log.warning("follower sync %s %s: %s", job.id, status, error)
        async with self.sessionmaker() as session, session.begin():
            if status == DONE and job.earliest_event_at is not None:
                await invalidate_from(session, job.earliest_event_at)
            result = await session.execute(
                update(JOBS)
                .where(JOBS.c.id == job.id, JOBS.c.holder == self.holder)
                .values(values | {"heartbeat_at": now})
            )
            await self.calls.flush(session)
        if result.rowcount == 1:
            for name, value in values.items():
                setattr(job, name, value)


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
