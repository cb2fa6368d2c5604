"""Starting and stopping the campaign engine: inside ``serve`` and as ``laoke worker``.

``serve`` runs the scheduler (``[server] run_scheduler``) and a sender (``run_senders``)
beside the webhook through the ``campaign_engine`` cleanup context; ``laoke worker`` runs
only a sender, for scale-out on PostgreSQL. The scheduler also runs the nightly tier
recompute (``members.tier_recompute.recompute_all_tiers``) and the follower sync's daily run
and resumption (``followers/runner.py``) and the daily close of statement periods
(``statements/runs.py``). This module holds no scheduling or sending
logic of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CONTENT_TYPE_LATEST

from bot.appkeys import SERVICES, SESSIONMAKER
from bot.clock import Clock
from bot.config import Config
from bot.database import check_schema, create_engine, sessionmaker
from bot.dialog.context import Services
from bot.metrics import Metrics
from bot.services import open_services
from content import overrides
from followers.runner import FOLLOWER_SYNCS
from members.tier_recompute import recompute_all_tiers
from scheduler.backlog import BACKLOG_EVERY_S, delivery_backlog
from scheduler.backlog import export as export_backlog
from scheduler.loop import CampaignScheduler, LeaderJob
from scheduler.sender import Sender
from statements.runs import daily_close

log = logging.getLogger(__name__)


def nightly_tiers(sm, services: Services):
    """The nightly job: recompute every buyer's tier and announce changes."""

    async def job() -> None:
        result = await recompute_all_tiers(sm, services)
        log.info("nightly tier recompute: %s", result)

    return job


def follower_jobs(app: web.Application) -> list[LeaderJob]:
    """The follower sync's leader jobs: the daily run at ``[followers] sync_at`` (when
    enabled), and every minute resuming a sync whose process died or whose quota reset."""
    cfg = app[SERVICES].config
    jobs = [
        LeaderJob(
            "resume follower sync",
            IntervalTrigger(seconds=60),
            lambda: app[FOLLOWER_SYNCS].resume_due(),
        )
    ]
    if cfg.followers.enabled:
        at = cfg.followers.sync_at
        trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=cfg.campaigns.timezone)
        jobs.append(LeaderJob("daily follower sync", trigger, lambda: app[FOLLOWER_SYNCS].daily()))
    return jobs


def statement_jobs(app: web.Application) -> list[LeaderJob]:
    """The daily close of statement periods at ``[statements] close_at`` (when enabled)."""
    cfg = app[SERVICES].config
    if not cfg.statements.close_enabled:
        return []
    at = cfg.statements.close_at
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=cfg.campaigns.timezone)
    sm, services = app[SESSIONMAKER], app[SERVICES]
    return [LeaderJob("daily statement close", trigger, lambda: daily_close(sm, services))]


def backlog_job(sm, services: Services) -> LeaderJob:
    """The leader measures the delivery backlog for the alerts (``scheduler/backlog.py``)."""

    async def measure() -> None:
        now = services.clock.now()
        async with sm() as session:
            export_backlog(services.metrics, await delivery_backlog(session, now))

    return LeaderJob("delivery backlog", IntervalTrigger(seconds=BACKLOG_EVERY_S), measure)


async def campaign_engine(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the scheduler and a sender run while the app runs (as configured)."""
    config: Config = app[SERVICES].config
    sm, services = app[SESSIONMAKER], app[SERVICES]
    scheduler: CampaignScheduler | None = None
    stop = asyncio.Event()
    sending: asyncio.Task | None = None
    if config.server.run_scheduler:
        scheduler = CampaignScheduler(
            sm,
            services,
            nightly=nightly_tiers(sm, services),
            leader_jobs=[*follower_jobs(app), *statement_jobs(app), backlog_job(sm, services)],
        )
        scheduler.start()
    if config.server.run_senders:
        sending = asyncio.create_task(Sender(sm, services).run(stop), name="campaign-sender")
    yield
    stop.set()
    if sending is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    if scheduler is not None:
        await scheduler.stop()


def worker_runner():
    """uvloop's runner when installed (about a third more sends per CPU), else asyncio.run."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def serve_metrics(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """A worker's /metrics (its deliveries and WeChat calls) on `host`:`port`."""

    async def render(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", render)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run_worker(
    config: Config, *, clock: Clock | None = None, metrics_port: int | None = None
) -> None:
    """``laoke worker``: a sender only, until SIGINT/SIGTERM; with `metrics_port`, its
    /metrics on [server] host at that port for Prometheus."""
    clock = clock or Clock()
    engine = create_engine(config.database)
    await check_schema(engine)
    sm = sessionmaker(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_services(config, sm, clock=clock) as services:
            exporter = None
            if metrics_port is not None:
                exporter = await serve_metrics(services.metrics, config.server.host, metrics_port)
            # Admins' published template versions, reloaded within a second of a publish.
            _, published = await overrides.start(sm, services.renderer, services.template_messages)
            sender = Sender(sm, services)
            log.info("worker %s sending", sender.worker_id)
            try:
                await sender.run(stop)
            finally:
                published.cancel()
                if exporter is not None:
                    await exporter.cleanup()
    finally:
        await engine.dispose()
