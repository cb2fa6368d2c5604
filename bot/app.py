"""The application factory: ``create_app(config) -> web.Application``.

Everything that opens and closes (database engine, HTTP client session, WeChat API client,
scheduler, senders) is a ``cleanup_ctx``; everything shared is under a typed AppKey
(``bot/appkeys.py``). Tests call this factory directly with pytest-aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import api, ops, webhook
from bot.api import ApiRoutes
from bot.appkeys import CLOCK, CONFIG, DISPATCHER, ENGINE, HTTP, METRICS, SERVICES, SESSIONMAKER
from bot.clock import Clock
from bot.config import Config
from bot.context import Services
from bot.database import check_schema, checkpoint, create_engine, is_sqlite, sessionmaker
from bot.metrics import Metrics
from bot.rendering import Renderer
from bot.wechat_api import WeChatAPI
from handlers import build_dispatcher
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
    app = web.Application(client_max_size=config.server.max_body_bytes)
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
        timeout = aiohttp.ClientTimeout(total=config.wechat.timeout_s)
        connector = aiohttp.TCPConnector(limit=max(100, config.campaigns.concurrency * 2))
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            app[HTTP] = http
            api = WeChatAPI(config.wechat, app[SESSIONMAKER], app[CLOCK], http, app[METRICS])
            app[SERVICES] = Services(
                config=config, renderer=renderer, api=api, clock=app[CLOCK], metrics=app[METRICS]
            )
            app[DISPATCHER] = build_dispatcher(app[SERVICES])
            yield

    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(services)
    app.cleanup_ctx.append(campaign_engine)  # scheduler + sender, per [server] run_*
    webhook.setup(app)
    ops.setup(app)
    api.setup(app, api_route_sets())
    return app


def api_route_sets() -> list[ApiRoutes]:
    """Every feature's operator endpoints under /api (a feature adds its module here)."""
    from bot import api_orders
    from insights import api as insights_api
    from scheduler import campaigns_api, segments_api

    return [segments_api.routes, campaigns_api.routes, api_orders.routes, insights_api.routes]
