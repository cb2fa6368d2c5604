"""Work the insights keep up to date in the background, beside the scheduler: started with the
app in processes that run it (``[server] run_scheduler``), cancelled when the app stops.

It decides nothing about what is refreshed or how often (``insights/refresher.py``,
``insights/rhythm_store.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG


@contextlib.asynccontextmanager
async def beside_scheduler(
    app: web.Application, name: str, work: Callable[[], Coroutine[Any, Any, None]]
) -> AsyncIterator[None]:
    """Run `work()` as a task named `name` while the app runs, where the scheduler runs."""
    task = asyncio.create_task(work(), name=name) if app[CONFIG].server.run_scheduler else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
