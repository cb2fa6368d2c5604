"""The application factory: ``create_app(config) -> web.Application``.

Everything that opens and closes (database engine, HTTP client session, WeChat API client,
scheduler, senders) is a ``cleanup_ctx``; everything shared is under a typed AppKey
(``bot/appkeys.py``). Tests call this factory directly with pytest-aiohttp. This module and
``laoke/cli.py`` are the composition root: the only modules that wire the packages together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

import console
from bot import api, ops
from bot.api import ApiRoutes
from bot.appkeys import CLOCK, CONFIG, DISPATCHER, ENGINE, HTTP, METRICS, SERVICES, SESSIONMAKER
from bot.body_limits import limit_body, route_body_limit
from bot.clock import Clock
from bot.config import Config
from bot.database import check_schema, checkpoint, create_engine, is_sqlite, sessionmaker
from bot.dialog.rendering import Renderer
from bot.inbound import webhook
from bot.metrics import Metrics
from bot.services import open_services
from content import overrides
from followers import api as followers_api
from followers.runner import follower_syncs_ctx
from handlers import build_dispatcher
from insights import api as insights_api
from insights.refresher import dashboard_refresher
from insights.rhythm_store import rhythm_refresher
from members import orders_api
from members.import_jobs import import_jobs_ctx
from scheduler import campaigns_api, segment_tags_api, segments_api
from scheduler.engine import campaign_engine

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0


async def _checkpoint_every(engine, interval_s: float) -> None:
    """SQLite's WAL checkpoints, moved out of request commits (see bot.database.create_engine)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await checkpoint(engine)
        except Exception:  # a locked or busy database: the next round tries again
            log.warning("WAL checkpoint failed", exc_info=True)


def create_app(
    config: Config,
    *,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
    require_current_schema: bool = True,
) -> web.Application:
    """Build the web application: webhook, operator API, ops endpoints, background work."""
    # The largest body any route takes; smaller per-route limits (the webhook's) are applied
    # by route_body_limit.
    app = web.Application(
        client_max_size=max(config.api.max_body_bytes, config.server.max_body_bytes),
        middlewares=[route_body_limit],
    )
    app[CONFIG] = config
    app[CLOCK] = clock or Clock()
    app[METRICS] = Metrics()
    renderer = renderer or Renderer()

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(config.database, background_checkpoints=True)
        if require_current_schema:
            await check_schema(engine)
        app[ENGINE] = engine
        app[SESSIONMAKER] = sessionmaker(engine)
        checkpoints = (
            asyncio.create_task(_checkpoint_every(engine, CHECKPOINT_INTERVAL_S))
            if is_sqlite(config.database.url)
            else None
        )
        yield
        if checkpoints is not None:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
        await engine.dispose()

    async def services(app: web.Application) -> AsyncIterator[None]:
        async with open_services(
            config, app[SESSIONMAKER], clock=app[CLOCK], renderer=renderer, metrics=app[METRICS]
        ) as services:
            app[HTTP] = services.http
            app[SERVICES] = services
            app[DISPATCHER] = build_dispatcher(services)
            yield

    async def published_templates(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        _, task = await overrides.start(app[SESSIONMAKER], renderer, services.template_messages)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(services)
    app.cleanup_ctx.append(published_templates)  # admins' edits, reloaded on publish
    app.cleanup_ctx.append(campaign_engine)  # scheduler + sender, per [server] run_*
    app.cleanup_ctx.append(dashboard_refresher)  # with the scheduler: default views kept counted
    app.cleanup_ctx.append(rhythm_refresher)  # with the scheduler: reorder states of the day
    app.cleanup_ctx.append(import_jobs_ctx)  # console order imports in the background
    app.cleanup_ctx.append(follower_syncs_ctx)  # follower syncs (API, console, daily run)
    app.cleanup_ctx.append(segment_tags_api.tag_mirrors_ctx)  # segments mirrored as WeChat tags
    webhook.setup(app)
    for route in app.router.routes():
        if route.resource is not None and route.resource.canonical == config.server.webhook_path:
            limit_body(app, route, config.server.max_body_bytes)  # WeChat's few KB, not the API's
    ops.setup(app)
    api.setup(app, api_route_sets())
    console.setup(app)
    return app


def api_route_sets() -> list[ApiRoutes]:
    """Every feature's operator endpoints under /api (a feature adds its module here)."""
    return [
        segments_api.routes,
        campaigns_api.routes,
        orders_api.routes,
        insights_api.routes,
        followers_api.routes,
        segment_tags_api.routes,
    ]
