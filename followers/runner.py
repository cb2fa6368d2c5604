"""Where follower syncs run: in the background of ``serve`` (API, console, the daily run) or in
the foreground of ``laoke followers sync``.

:class:`FollowerSyncs` is one per application (``follower_syncs_ctx`` puts it under
``FOLLOWER_SYNCS``): ``start`` claims a job (``followers/jobs.py``) and runs it as a task the
application owns; on shutdown the task is cancelled and the job is marked interrupted, to be
resumed by the next start. The scheduler (``scheduler/engine.py``), in the one process holding
its lease, calls ``daily`` at ``[followers] sync_at`` and ``resume_due`` every minute, which
picks up a job whose process died, that the quota paused yesterday, or that WeChat's outage
interrupted. :func:`sync_now` runs one in the foreground for the CLI.

This module does not know how a sync works (``followers/sync.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.appkeys import SERVICES, SESSIONMAKER
from bot.dialog.context import Services
from followers.jobs import Claim, SyncRunning, claim_job, new_holder, unfinished_job
from followers.models import FollowerSyncJob
from followers.sync import FollowerSync, Progress

log = logging.getLogger(__name__)

DAILY_ACTOR = "每日自动同步"
RESUME_ACTOR = "自动继续"


class FollowerSyncs:
    """The follower sync tasks of one application."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], services: Services) -> None:
        self.sessionmaker, self.services = sessionmaker, services
        self.tasks: set[asyncio.Task] = set()

    def _runner(self, holder: str) -> FollowerSync:
        return FollowerSync(
            self.sessionmaker,
            self.services.api,
            self.services.clock,
            self.services.config.followers,
            holder=holder,
        )

    def _launch(self, claim: Claim, holder: str) -> None:
        task = asyncio.create_task(
            self._runner(holder).run(claim.job), name=f"follower-sync-{claim.job.id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self, *, trigger: str, actor: str) -> Claim:
        """Start (or resume) the sync in the background; SyncRunning if one runs."""
        holder = new_holder()
        claim = await claim_job(
            self.sessionmaker, self.services.clock.now(), holder=holder, trigger=trigger,
            actor=actor,
        )  # fmt: skip
        self._launch(claim, holder)
        return claim

    async def daily(self) -> None:
        """The daily run (the scheduler's leader calls it at ``sync_at``)."""
        try:
            claim = await self.start(trigger="daily", actor=DAILY_ACTOR)
        except SyncRunning:
            log.info("daily follower sync: a sync is already running")
            return
        log.info(
            "daily follower sync: job %s %s",
            claim.job.id,
            "resumed" if claim.resumed else "started",
        )

    async def resume_due(self) -> None:
        """Resume an unfinished job that is due (its process died, its quota reset …)."""
        async with self.sessionmaker() as session:  # most minutes there is none: one read
            if await unfinished_job(session) is None:
                return
        holder = new_holder()
        claim = await claim_job(
            self.sessionmaker, self.services.clock.now(), holder=holder, trigger="resume",
            actor=RESUME_ACTOR, only_resume=True,
        )  # fmt: skip
        if claim is not None:
            log.info("follower sync %s resumed (%s)", claim.job.id, claim.job.phase)
            self._launch(claim, holder)

    async def wait(self) -> None:
        """Until the syncs running now have ended (tests, the demo's first import)."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=10)


FOLLOWER_SYNCS = web.AppKey("follower_syncs", FollowerSyncs)


async def follower_syncs_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the application's follower syncs; running ones are interrupted at exit."""
    syncs = FollowerSyncs(app[SESSIONMAKER], app[SERVICES])
    app[FOLLOWER_SYNCS] = syncs
    yield
    await syncs.close()


async def sync_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    trigger: str,
    actor: str,
    progress: Progress | None = None,
) -> tuple[FollowerSyncJob, bool]:
    """Claim and run a sync to its end in this task; the job as it ended and whether it was a
    resumed one. SyncRunning if another process runs one."""
    holder = new_holder()
    claim = await claim_job(
        sessionmaker, services.clock.now(), holder=holder, trigger=trigger, actor=actor
    )
    sync = FollowerSync(
        sessionmaker, services.api, services.clock, services.config.followers,
        holder=holder, progress=progress,
    )  # fmt: skip
    return await sync.run(claim.job), claim.resumed
