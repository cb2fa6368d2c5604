"""Operations endpoints: ``/healthz`` (is the database reachable) and ``/metrics`` (Prometheus).

Both are unauthenticated and reveal nothing about buyers: counts and latencies only. Bind the
server to a private interface or filter these paths at the proxy if that matters to you.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.appkeys import ENGINE, METRICS
from bot.database import unavailable

log = logging.getLogger("laoke.ops")

HEALTH_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers a trivial query within a short timeout, else 503."""
    reason = await unavailable(request.app[ENGINE], HEALTH_TIMEOUT_S)
    if reason is not None:
        log.warning("health check failed: %s", reason)
        return web.json_response({"status": "fail", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """The application's Prometheus registry in the text exposition format."""
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    """Route /healthz and /metrics."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
