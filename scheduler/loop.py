"""The scheduler: turns due campaign steps into delivery rows, one leader at a time.

Time is driven by APScheduler (an interval job calling ``tick`` and the nightly tier
recompute), but the database is the source of truth: each step row has ``due_at`` and
``status``, so a restart loses nothing. ``tick`` does everything one pass needs and tests call
it directly with a FakeClock:

1. hold the ``scheduler`` lease (``leases`` table, renewed each tick, taken over once expired)
   so that only one process acts even when several run ``serve``;
2. for each due step of a scheduled/running campaign: fan out when it is at most
   ``missed_grace_s`` late, otherwise mark it missed (a step is never sent late silently);
3. close steps and campaigns whose deliveries are all settled;
4. mark rows held by dead senders ``uncertain`` (``scheduler/delivery.py``).

Fan-out is one set-based ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per step over the
compiled segment, so it is idempotent and never loads buyers into Python. This module does not
send anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    exists,
    func,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialog.context import Services
from bot.leases import acquire_lease, release_lease
from bot.logs import Outage
from bot.models import Buyer, UTCDateTime
from scheduler.backlog import export as export_backlog
from scheduler.delivery import mark_in_flight_uncertain
from scheduler.models import (
    CLAIMED,
    DONE,
    LIVESTREAM,
    PENDING,
    RECALL,
    RUNNING,
    SCHEDULED,
    SENDING,
    START,
    STEP_DONE,
    STEP_FANNED_OUT,
    STEP_MISSED,
    STEP_PENDING,
    Campaign,
    CampaignStep,
    Delivery,
    Rsvp,
)
from scheduler.saved_segments import get_segment
from scheduler.segments import compile_segment

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=30)
# A fan-out at least this large refreshes the PostgreSQL statistics of `deliveries`.
ANALYZE_AFTER = 10_000
# How long `stop` waits for jobs in progress (a large fan-out) before cutting them off.
STOP_WAIT_S = 30.0

NightlyJob = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class LeaderJob:
    """Work only the process holding the scheduler lease does, when `trigger` fires (an
    APScheduler trigger): the daily follower sync, resuming an interrupted one."""

    name: str
    trigger: Any
    run: NightlyJob


class _OverlappingTicks(logging.Filter):
    """A tick still running when the next is due (a big fan-out) is normal: don't warn."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("_safe_tick" in msg and "maximum number of running instances" in msg)


logging.getLogger("apscheduler.scheduler").addFilter(_OverlappingTicks())


class _QuietTicks(logging.Filter):
    """APScheduler logs every run of every job at INFO; for the 1-second tick that would
    drown ``laoke serve``'s output, so its "Running job"/"executed" lines become DEBUG (the
    tick itself logs at INFO when it did something)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or "_safe_tick" not in record.getMessage():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


logging.getLogger("apscheduler.executors.default").addFilter(_QuietTicks())


def process_id(role: str) -> str:
    """A name for this process in leases and claims: role, host, pid and a random suffix."""
    return f"{role}:{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def segment_condition(
    session: AsyncSession, campaign: Campaign, now: datetime
) -> ColumnElement[bool]:
    """The campaign's segment as one SQL condition over buyers (a saved one read now)."""
    spec = campaign.segment
    if campaign.segment_name:
        spec = (await get_segment(session, campaign.segment_name)).spec
    return true() if spec is None else compile_segment(spec, now)


def _insert(session: AsyncSession, table: Any) -> Any:
    return (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert(table)


_COLUMNS = [
    "step_id",
    "campaign_id",
    "buyer_id",
    "openid",
    "requested",
    "status",
    "attempts",
    "created_at",
]


def _rows(step: CampaignStep, requested: bool, now: datetime) -> list[Any]:
    return [
        literal(step.id, Integer),
        literal(step.campaign_id, Integer),
        Buyer.id,
        Buyer.openid,
        literal(requested),
        literal(PENDING, String),
        literal(0, Integer),
        literal(now, UTCDateTime()),
    ]


async def fan_out(
    session: AsyncSession, campaign: Campaign, step: CampaignStep, now: datetime
) -> int:
    """Write one pending delivery per recipient of `step` (idempotent); returns recipients."""
    reachable = and_(Buyer.subscribed.is_(True), Buyer.opted_out.is_(False))
    conditions = [await segment_condition(session, campaign, now), reachable]
    to_segment = True
    if campaign.kind == RECALL:
        dormant_since = now - timedelta(days=int(campaign.params.get("dormant_days", 0)))
        last_seen = func.coalesce(Buyer.last_interaction_at, Buyer.first_seen_at)
        conditions.append(last_seen <= literal(dormant_since, UTCDateTime()))
    if campaign.kind == LIVESTREAM and step.kind == START:
        # RSVP'd buyers asked for this one: they get it even outside the segment or opted
        # out (first, so their rows carry requested=True).
        rsvped = exists().where(Rsvp.campaign_id == campaign.id, Rsvp.buyer_id == Buyer.id)
        stmt = _insert(session, Delivery).from_select(
            _COLUMNS,
            select(*_rows(step, True, now)).where(rsvped, Buyer.subscribed.is_(True)),
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["step_id", "buyer_id"]))
        to_segment = 0 in campaign.params.get("offsets_s", [0])
    if to_segment:
        stmt = _insert(session, Delivery).from_select(
            _COLUMNS, select(*_rows(step, False, now)).where(*conditions)
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["step_id", "buyer_id"]))
    return await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.step_id == step.id)
    )


class CampaignScheduler:
    """Runs due steps; ``tick`` is one pass, ``start`` lets APScheduler call it every second."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        services: Services,
        *,
        holder: str | None = None,
        tick_s: float = 1.0,
        nightly: NightlyJob | None = None,
        leader_jobs: Sequence[LeaderJob] = (),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.services = services
        self.clock = services.clock
        self.cfg = services.config.campaigns
        self.holder = holder or process_id("scheduler")
        self.tick_s = tick_s
        self.nightly = nightly
        self.leader_jobs = tuple(leader_jobs)
        self.is_leader = False
        self._aps: AsyncIOScheduler | None = None
        # The jobs APScheduler is running now (tick, nightly), so `stop` can let them finish.
        self._running: set[asyncio.Task] = set()
        self._outage = Outage(log, "scheduler tick")

    # --- one pass -------------------------------------------------------------------------
    async def tick(self) -> bool:
        """One scheduling pass; returns whether this process held the lease and acted."""
        now = self.clock.now()
        was_leader = self.is_leader
        self.is_leader = await acquire_lease(
            self.sessionmaker, LEASE_NAME, self.holder, now, LEASE_TTL
        )
        metrics = self.services.metrics
        metrics.scheduler_leader.set(1 if self.is_leader else 0)
        if not self.is_leader:
            if was_leader:
                export_backlog(metrics, None)  # the new leader exports it
            return False
        steps = await self.run_due_steps(now)
        finished = await self.close_finished(now)
        async with self.sessionmaker() as session, session.begin():
            uncertain = await mark_in_flight_uncertain(session, now, self.cfg)
        metrics.deliveries_uncertain.inc(uncertain)
        # Most ticks find nothing to do: log those at DEBUG so the log shows only real work.
        level = logging.INFO if steps or finished or uncertain else logging.DEBUG
        log.log(
            level,
            "scheduler tick: %d due steps handled, %d campaigns finished, "
            "%d in-flight deliveries marked uncertain",
            steps,
            finished,
            uncertain,
        )
        return True

    async def run_due_steps(self, now: datetime) -> int:
        """Fan out (or mark missed) every due step; returns how many steps were handled."""
        async with self.sessionmaker() as session:
            due = (
                (
                    await session.execute(
                        select(CampaignStep.id)
                        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
                        .where(
                            CampaignStep.status == STEP_PENDING,
                            CampaignStep.due_at <= now,
                            Campaign.status.in_((SCHEDULED, RUNNING)),
                        )
                        .order_by(CampaignStep.due_at, CampaignStep.id)
                    )
                )
                .scalars()
                .all()
            )
        for step_id in due:
            # One transaction per step: a crash mid-fan-out rolls back, the rerun starts clean.
            async with self.sessionmaker() as session, session.begin():
                step = await session.get(CampaignStep, step_id, with_for_update=True)
                campaign = await session.get(Campaign, step.campaign_id)
                if step.status != STEP_PENDING or campaign.status not in (SCHEDULED, RUNNING):
                    continue
                since = max(step.due_at, campaign.resumed_at or step.due_at)
                late = (now - since).total_seconds()
                if late > self.cfg.missed_grace_s:
                    step.status, step.finished_at = STEP_MISSED, now
                    step.note = f"due {step.due_at.isoformat()}, scheduler ran {late:.0f}s late"
                    log.warning("campaign %s step %s missed: %s", campaign.id, step.id, step.note)
                    continue
                step.recipients = await fan_out(session, campaign, step, now)
                step.status, step.fanned_out_at = STEP_FANNED_OUT, now
                campaign.status, campaign.updated_at = RUNNING, now
                if step.recipients >= ANALYZE_AFTER and session.bind.dialect.name == "postgresql":
                    # The senders' queries are planned from table statistics; a large
                    # fan-out changes the table under them before autovacuum (when it is
                    # on at all) gets to it. ANALYZE samples; it blocks no reads or writes.
                    await session.execute(text("ANALYZE deliveries"))
                log.info(
                    "campaign %s step %s (%s) fanned out to %d recipients",
                    campaign.id,
                    step.id,
                    step.kind,
                    step.recipients,
                )
        return len(due)

    async def close_finished(self, now: datetime) -> int:
        """Steps with no unsettled delivery are done; campaigns with no open step are done.

        Returns how many campaigns finished."""
        async with self.sessionmaker() as session, session.begin():
            unsettled = (
                select(Delivery.id)
                .where(
                    Delivery.campaign_id == CampaignStep.campaign_id,
                    Delivery.status.in_((PENDING, CLAIMED, SENDING)),
                    Delivery.step_id == CampaignStep.id,
                )
                .exists()
            )
            await session.execute(
                update(CampaignStep)
                .where(CampaignStep.status == STEP_FANNED_OUT, ~unsettled)
                .values(status=STEP_DONE, finished_at=now)
            )
            open_step = (
                select(CampaignStep.id)
                .where(
                    CampaignStep.campaign_id == Campaign.id,
                    CampaignStep.status.in_((STEP_PENDING, STEP_FANNED_OUT)),
                )
                .exists()
            )
            result = await session.execute(
                update(Campaign)
                .where(Campaign.status.in_((SCHEDULED, RUNNING)), ~open_step)
                .values(status=DONE, finished_at=now, updated_at=now)
            )
        return result.rowcount or 0

    # --- APScheduler ----------------------------------------------------------------------
    async def _safe_tick(self) -> None:
        if self._aps is None:  # stopping: no new pass
            return
        with self._job():
            try:
                await self.tick()
            except Exception:  # a failed pass is retried by the next one; never kill the job
                self._outage.failed()
            else:
                self._outage.ok()

    @contextlib.contextmanager
    def _job(self) -> Iterator[None]:
        task = asyncio.current_task()
        self._running.add(task)
        try:
            yield
        finally:
            self._running.discard(task)

    def start(self) -> None:
        """Start APScheduler: `tick` every `tick_s`, the nightly job at 03:00 local time."""
        aps = AsyncIOScheduler(timezone=self.cfg.timezone)
        aps.add_job(
            self._safe_tick,
            "interval",
            seconds=self.tick_s,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(aps.timezone),
        )
        if self.nightly is not None:
            aps.add_job(
                self._nightly,
                CronTrigger(hour=3, minute=0, timezone=self.cfg.timezone),
                max_instances=1,
                coalesce=True,
            )
        for job in self.leader_jobs:
            aps.add_job(
                self.run_leader_job, job.trigger, args=[job], max_instances=1, coalesce=True
            )
        aps.start()
        self._aps = aps

    async def _nightly(self) -> None:
        if not self.is_leader or self.nightly is None or self._aps is None:
            return  # one process recomputes tiers, the same one that schedules
        with self._job():
            try:
                await self.nightly()
            except Exception:
                log.exception("nightly job failed")

    async def run_leader_job(self, job: LeaderJob) -> None:
        """Run `job` if this process is the leader (APScheduler calls it when it is due; a
        stopping scheduler is paused first, so it calls nothing more)."""
        if not self.is_leader:
            return
        with self._job():
            try:
                await job.run()
            except Exception:
                log.exception("scheduler job %s failed", job.name)

    async def stop(self) -> None:
        """Let a pass in progress finish, stop APScheduler, and give the lease back so another
        process takes over at once.

        APScheduler's shutdown cancels the job tasks still running: a fan-out cut off that way
        rolls back (harmless, it reruns) but logs a CancelledError as a failed job, and the
        lease would be released while the pass still writes. So new passes are refused first,
        then the running ones get up to ``STOP_WAIT_S`` to end.
        """
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.pause()
            if self._running:
                _, late = await asyncio.wait(set(self._running), timeout=STOP_WAIT_S)
                if late:
                    log.warning("scheduler: %d job(s) still running are cut off", len(late))
            aps.shutdown(wait=False)
        if self.is_leader:
            await release_lease(self.sessionmaker, LEASE_NAME, self.holder)
            self.is_leader = False
            self.services.metrics.scheduler_leader.set(0)
            export_backlog(self.services.metrics, None)
