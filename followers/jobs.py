"""Follower sync jobs: one at a time, resumed rather than restarted, and readable by anyone.

At most one sync runs per account: whoever runs it holds the ``follower_sync`` lease
(``bot/leases.py``), renewed with every checkpoint. :func:`claim_job` takes the lease and then
the newest unfinished job (running under a dead holder, interrupted, paused for the quota,
failed) to resume it — or, when there is none, or it is older than ``RESUME_WITHIN`` (its
listing would be stale), a new job. While another holder is alive it raises
:class:`SyncRunning` with that job, which the API answers with 409.

A holder is dead when its lease has expired (no checkpoint for ``STALE_AFTER``), or at once
when it names a process of this machine that no longer exists (a ``laoke followers sync``
killed with SIGKILL is resumed by the next one without waiting).

This module does not run jobs (``followers/sync.py``) or start them in the background
(``followers/runner.py``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psutil
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.leases import acquire_lease, release_lease
from bot.models import Lease
from bot.wechat.quota import wechat_day
from followers.models import (
    ABANDONED,
    DONE,
    INTERRUPTED,
    LISTING,
    PAUSED,
    RUNNING,
    STOPPED_REASON,
    UNFINISHED,
    FollowerSyncJob,
    ListedFollower,
)

LEASE = "follower_sync"
STALE_AFTER = timedelta(minutes=2)  # a holder this long without a checkpoint is dead
RESUME_WITHIN = timedelta(days=2)  # an older unfinished job is replaced by a fresh listing
RETRY_AFTER = timedelta(minutes=10)  # an interrupted job is retried on its own after this
PURGE_CHUNK = 5000


class SyncRunning(Exception):
    """Another process runs a follower sync now (`job`, when its row is readable)."""

    def __init__(self, job: FollowerSyncJob | None) -> None:
        super().__init__("a follower sync is already running")
        self.job = job


@dataclass(frozen=True)
class Claim:
    job: FollowerSyncJob  # detached, as claimed
    resumed: bool


def new_holder(role: str = "followers") -> str:
    """A holder name for leases and job rows: role, host, pid and a random suffix."""
    return f"{role}:{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_on_this_host(holder: str) -> bool:
    """Whether `holder` names a process of this machine that has exited."""
    parts = holder.split(":")
    if len(parts) != 4 or parts[1] != socket.gethostname()[:40] or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    return pid != os.getpid() and not psutil.pid_exists(pid)


async def _take_over(
    sessionmaker: async_sessionmaker[AsyncSession], holder: str, now: datetime
) -> bool:
    """Take the lease from a holder that died on this machine; True if ours now."""
    async with sessionmaker() as session, session.begin():
        current = await session.get(Lease, LEASE, with_for_update=True)
        if current is None or not dead_on_this_host(current.holder):
            return False
        result = await session.execute(
            update(Lease)
            .where(Lease.name == LEASE, Lease.holder == current.holder)
            .values(holder=holder, expires_at=now + STALE_AFTER)
        )
        return result.rowcount == 1


async def latest_job(session: AsyncSession) -> FollowerSyncJob | None:
    """The newest sync job, whatever its state."""
    return await session.scalar(
        select(FollowerSyncJob).order_by(FollowerSyncJob.id.desc()).limit(1)
    )


async def last_finished(session: AsyncSession) -> FollowerSyncJob | None:
    """The newest sync that completed."""
    return await session.scalar(
        select(FollowerSyncJob)
        .where(FollowerSyncJob.status == DONE)
        .order_by(FollowerSyncJob.id.desc())
        .limit(1)
    )


async def unfinished_job(session: AsyncSession) -> FollowerSyncJob | None:
    """The newest job that did not complete (running, paused, interrupted, failed)."""
    return await session.scalar(
        select(FollowerSyncJob)
        .where(FollowerSyncJob.status.in_(UNFINISHED))
        .order_by(FollowerSyncJob.id.desc())
        .limit(1)
    )


async def get_job(session: AsyncSession, job_id: int) -> FollowerSyncJob | None:
    return await session.get(FollowerSyncJob, job_id, populate_existing=True)


def _due(job: FollowerSyncJob, now: datetime) -> bool:
    """Whether an unfinished job should be resumed without anyone asking."""
    if job.status == PAUSED:  # the quota resets at midnight, Beijing time
        return wechat_day(now) != wechat_day(job.heartbeat_at)
    if job.status == INTERRUPTED:
        return job.error == STOPPED_REASON or now - job.heartbeat_at >= RETRY_AFTER
    return job.status == RUNNING  # its holder is gone (we hold the lease)


async def claim_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    holder: str,
    trigger: str,
    actor: str,
    only_resume: bool = False,
) -> Claim | None:
    """Take the lease and the job to run: the unfinished one, else a new one.

    SyncRunning while another live holder runs a sync. With `only_resume` (the scheduler's
    periodic check) no job is created, and an unfinished one is taken only when due: None."""
    if not await acquire_lease(sessionmaker, LEASE, holder, now, STALE_AFTER):
        if not await _take_over(sessionmaker, holder, now):
            if only_resume:
                return None
            async with sessionmaker() as session:
                running = await session.scalar(
                    select(FollowerSyncJob)
                    .where(FollowerSyncJob.status == RUNNING)
                    .order_by(FollowerSyncJob.id.desc())
                    .limit(1)
                )
            raise SyncRunning(running)
    try:
        claim = await _claim(sessionmaker, now, holder, trigger, actor, only_resume)
    except BaseException:
        await release_lease(sessionmaker, LEASE, holder)
        raise
    if claim is None:
        await release_lease(sessionmaker, LEASE, holder)
    return claim


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    holder: str,
    trigger: str,
    actor: str,
    only_resume: bool,
) -> Claim | None:
    async with sessionmaker() as session, session.begin():
        job = await unfinished_job(session)
        if job is not None and now - job.created_at > RESUME_WITHIN:
            job.status, job.finished_at = ABANDONED, now
            job.error = "同步长时间未完成，已由新的同步取代"
            job = None
        if job is not None and (not only_resume or _due(job, now)):
            job.status, job.holder, job.heartbeat_at, job.error = RUNNING, holder, now, None
            await session.flush()
            session.expunge(job)
            return Claim(job, resumed=True)
        if only_resume:
            return None
        job = FollowerSyncJob(
            status=RUNNING, phase=LISTING, trigger=trigger, actor=actor[:64], holder=holder,
            created_at=now, heartbeat_at=now, total=0, listed=0, detailed=0, created=0,
            updated=0, left_count=0, errors=0, calls_list=0, calls_detail=0,
        )  # fmt: skip
        session.add(job)
        await session.flush()
        session.expunge(job)
        return Claim(job, resumed=False)


async def purge_listings(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Delete the listings of jobs that are over, a chunk per transaction (short write locks
    beside the webhook); rows deleted."""
    gone = 0
    async with sessionmaker() as session:
        over = list(
            await session.scalars(
                select(ListedFollower.job_id)
                .distinct()
                .where(
                    ListedFollower.job_id.in_(
                        select(FollowerSyncJob.id).where(FollowerSyncJob.status.not_in(UNFINISHED))
                    )
                )
            )
        )
    for job_id in over:
        while True:
            async with sessionmaker() as session, session.begin():
                chunk = (
                    select(ListedFollower.openid)
                    .where(ListedFollower.job_id == job_id)
                    .limit(PURGE_CHUNK)
                    .scalar_subquery()
                )
                result = await session.execute(
                    delete(ListedFollower).where(
                        ListedFollower.job_id == job_id, ListedFollower.openid.in_(chunk)
                    )
                )
            if not result.rowcount:
                break
            gone += result.rowcount
    return gone


def job_to_dict(job: FollowerSyncJob) -> dict[str, Any]:
    """A sync job as the API and the CLI show it."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": job.id,
        "status": job.status,
        "phase": job.phase,
        "trigger": job.trigger,
        "actor": job.actor,
        "created_at": iso(job.created_at),
        "heartbeat_at": iso(job.heartbeat_at),
        "finished_at": iso(job.finished_at),
        "total": job.total,
        "listed": job.listed,
        "detailed": job.detailed,
        "created": job.created,
        "updated": job.updated,
        "left": job.left_count,
        "errors": job.errors,
        "percent": job.percent,
        "api_calls": {"user/get": job.calls_list, "user/info/batchget": job.calls_detail},
        "error": job.error,
    }


def counts_of(job: FollowerSyncJob) -> Mapping[str, int]:
    """The figures staff read (audit entries, the console)."""
    return {
        "total": job.total, "listed": job.listed, "detailed": job.detailed,
        "created": job.created, "updated": job.updated, "left": job.left_count,
        "errors": job.errors,
    }  # fmt: skip
