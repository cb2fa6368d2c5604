"""Servers on a real loopback port for the browser tests, each in its own thread and event loop.

Playwright's sync API drives Chromium from the test's thread, so the server under test runs
its own loop beside it: ``LiveApp`` serves one aiohttp application (``create_app`` or the
WeChat simulator), ``LiveDemo`` the whole ``laoke demo``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.appkeys import SESSIONMAKER
from bot.clock import Clock
from console.accounts import create_user
from console.roles import Role
from laoke.demo import RunningDemo, start_demo

PASSWORD = "correct-horse-9"  # every account the tests create signs in with it
# Where the browser tests put their screenshots: a temporary folder, so a test run never
# rewrites tracked files. scripts/screenshots points it at docs/screenshots to refresh the
# operator's guide.
SHOTS = Path(os.environ.get("LAOKE_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="laoke-shots-"))


class ThreadLoop:
    """An event loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class LiveApp(ThreadLoop):
    """An aiohttp application on a free loopback port (``url``)."""

    def __init__(self, app: web.Application) -> None:
        super().__init__()
        self.app = app
        self.url = ""

    def start(self) -> None:
        self.run(self._serve())

    async def _serve(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def add_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        async def add(session: Any) -> None:
            await create_user(session, name, Role.parse(role), password, Clock().now())

        self.query(add)

    def query(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``work(session)`` on the server's database, in its loop."""

        async def go() -> Any:
            async with self.app[SESSIONMAKER]() as session, session.begin():
                return await work(session)

        return self.run(go())

    def stop(self) -> None:
        self.run(self.runner.cleanup())
        self.close()


class LiveDemo(ThreadLoop):
    """``laoke demo`` on a free port (``demo``: its URLs, configuration and logins)."""

    def __init__(self, data_dir: Path, clock: Clock | None = None) -> None:
        super().__init__()
        self.demo: RunningDemo = self.run(
            start_demo(data_dir, "127.0.0.1", 0, clock=clock), timeout=120
        )

    def stop(self) -> None:
        self.run(self.demo.stop())
        self.close()
