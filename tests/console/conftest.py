"""Console fixtures: signed-in test clients, a live server, and ONE headless Chromium.

- ``console`` (async): ``create_app`` under pytest-aiohttp's client on the fake clock;
  ``await console.login_as("operator")`` makes an account of that role and returns the
  headers (session cookie + CSRF header) to send as it; ``console.sessionmaker`` for checks.
- ``live_console``: ``create_app`` served on 127.0.0.1 from a thread, on a migrated SQLite
  copy and the real clock; ``.url``, ``.add_user(name, role, password)``, ``.run(coro)``.
- ``browser``: the one Chromium launched per test session (executable /usr/bin/chromium,
  Playwright's sync API), skipped with the reason when it cannot start; ``browser_page`` is
  a fresh context and page per test at 1280×800 (cookies never leak between tests). Other
  tests, sync or async, run normally before and after browser tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from live_server import PASSWORD, LiveApp, LiveDemo

from bot.appkeys import SESSIONMAKER
from console.accounts import create_user
from console.auth import SESSION_COOKIE
from console.sessions import start_session
from laoke.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@dataclass
class ConsoleClient:
    client: Any
    app: web.Application
    clock: Any

    @property
    def sessionmaker(self):
        return self.app[SESSIONMAKER]

    async def add_user(self, name: str, role: str, password: str = PASSWORD):
        async with self.sessionmaker() as session, session.begin():
            return await create_user(session, name, role, password, self.clock.now())

    async def login_as(self, role: str, name: str | None = None) -> dict[str, str]:
        """Headers that act as a new account of `role` (cookie and CSRF header)."""
        user = await self.add_user(name or f"{role}-user", role)
        async with self.sessionmaker() as session, session.begin():
            token = await start_session(session, user, self.clock.now(), "127.0.0.1")
            await session.flush()
            from sqlalchemy import select

            from console.models import ConsoleSession

            csrf = await session.scalar(
                select(ConsoleSession.csrf_token).where(ConsoleSession.user_id == user.id)
            )
        return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}


@pytest.fixture
async def console(aiohttp_client, make_config, clock) -> ConsoleClient:
    app = create_app(make_config(), clock=clock)
    client = await aiohttp_client(app)
    return ConsoleClient(client, app, clock)


@pytest.fixture
def live_console(make_config) -> Iterator[LiveApp]:
    live = LiveApp(create_app(make_config(api={"token": "service-token-1"})))
    live.start()
    yield live
    live.stop()


@dataclass
class _Chromium:
    browser: Any
    loop: asyncio.AbstractEventLoop | None  # Playwright's own event loop


@pytest.fixture(scope="session")
def _chromium() -> Iterator[_Chromium]:
    """The one Chromium of the test session (see ``browser``)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:  # a broken Chromium install: say why instead of erroring
        playwright.stop()
        pytest.skip(f"Chromium at {CHROMIUM} did not start: {exc}")
    loop = asyncio._get_running_loop()
    # Playwright's sync API leaves its loop marked as running in this thread between calls;
    # other tests (asyncio.run, pytest-asyncio) must not see it. ``browser`` marks it again
    # only while a browser test runs.
    asyncio._set_running_loop(None)
    yield _Chromium(chromium, loop)
    asyncio._set_running_loop(loop)
    chromium.close()
    playwright.stop()


@pytest.fixture
def browser(_chromium) -> Iterator[Any]:
    """The session's one headless Chromium (a Playwright sync ``Browser``), for this test."""
    asyncio._set_running_loop(_chromium.loop)
    try:
        yield _chromium.browser
    finally:
        asyncio._set_running_loop(None)


@pytest.fixture
def browser_page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def csrf_from(html: str) -> str:
    """The CSRF token a rendered form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@pytest.fixture
def live_demo(tmp_path) -> Iterator[Any]:
    """The whole ``laoke demo`` on a free port; yields its ``RunningDemo``."""
    running = LiveDemo(tmp_path / "demo")
    yield running.demo
    running.stop()
