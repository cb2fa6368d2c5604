"""The one services factory: what ``serve``, ``worker`` and every CLI command run with.

``open_services`` opens the HTTP client session (the configured WeChat timeout, a connection
pool sized for the campaign senders), builds the WeChat API client over it and yields one
typed ``Services``; leaving the context closes the session. The app factory, the worker and
the operator commands all come through here, so a service added to ``Services`` is built in
one place. It lives in ``bot`` (not in the composition root) because feature commands and
the worker reach it without importing ``laoke``.

This module opens no database: the caller passes the sessionmaker it owns.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from bot.wechat.client import WeChatAPI


@contextlib.asynccontextmanager
async def open_services(
    config: Config,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    clock: Clock | None = None,
    renderer: Renderer | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Services]:
    """Services over a fresh HTTP client session, closed when the context ends."""
    clock = clock or Clock()
    metrics = metrics or Metrics()
    timeout = aiohttp.ClientTimeout(total=config.wechat.timeout_s)
    connector = aiohttp.TCPConnector(limit=max(100, config.campaigns.concurrency * 2))
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        api = WeChatAPI(config.wechat, sessionmaker, clock, http, metrics)
        yield Services(config, renderer or Renderer(), api, clock, metrics, http)
