"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when configured), a fake clock,
configuration factories.

PostgreSQL: set LAOKE_TEST_POSTGRES_URL (``.ci/run`` does) to a server URL such as
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``. Each test session creates its own
database on that server (so parallel runs never meet), migrates it once, and truncates every
table before each test. Without the variable, PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bot.clock import FakeClock
from bot.config import Config, parse_config
from bot.database import create_engine, sessionmaker, upgrade
from laoke.schema import metadata
from tests import wall_clock

PG_ENV = "LAOKE_TEST_POSTGRES_URL"
PG_SKIP = "PostgreSQL tests need"
_PINNED = pytest.StashKey["datetime | None"]()


def pytest_configure(config) -> None:
    config.stash[_PINNED] = wall_clock.install()


def pytest_report_header(config) -> str:
    pinned = config.stash.get(_PINNED, None)
    if pinned is None:
        return "wall clock: real (set LAOKE_TEST_CLOCK=night|weekend|ISO to pin it)"
    return f"wall clock: pinned, starting at {pinned.astimezone(wall_clock.BEIJING):%Y-%m-%d %a %H:%M} Beijing"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall_clock.running(item.nodeid)
    try:
        return (yield)
    finally:
        wall_clock.running("")


def pytest_sessionfinish(session) -> None:
    wall_clock.write_log(os.environ.get("PYTEST_XDIST_WORKER", "main"))


def pytest_terminal_summary(terminalreporter) -> None:
    """Say loudly how many tests skipped for want of PostgreSQL (and how to run them)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if PG_SKIP in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} PostgreSQL tests SKIPPED: no server configured; set {PG_ENV} "
            "or start PostgreSQL on 127.0.0.1:5432 and run ./scripts/test",
            yellow=True,
            bold=True,
        )


AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, as WeChat issues them
APPID = "wx1234567890abcdef"
TOKEN = "laoke-test-token"
SECRET = "laoke-test-secret"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies."""
    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "laoke.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _pg_admin(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _new_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server, dropped afterwards (skips without one)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_SKIP} {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    with _new_pg_database("laoke_test") as url:
        upgrade(url)
        yield url


class OwnPostgres:
    """A migrated PostgreSQL database of one test's own, which the test may take down."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = make_url(url).database
        self.admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)

    async def down(self) -> None:
        """An outage: every connection cut, new ones refused."""
        await _pg_admin(self.admin, f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        await self.cut()

    async def cut(self) -> None:
        """What a restart or failover leaves behind: every open connection is dead."""
        await _pg_admin(
            self.admin,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    async def up(self) -> None:
        await _pg_admin(self.admin, f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    with _new_pg_database("laoke_own") as url:
        upgrade(url)
        yield OwnPostgres(url)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A PostgreSQL database with nothing in it, not even migrations (for migration tests)."""
    with _new_pg_database("laoke_mig") as url:
        yield url


@pytest.fixture
def pg_url(pg_session_url) -> str:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    asyncio.run(_pg_admin(pg_session_url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return pg_session_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sessions(db_url) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker on the migrated test database (once on SQLite, once on PostgreSQL)."""
    engine = create_engine(db_url)
    yield sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session, e.g. for a WeChatAPI talking to ``fake_wechat``."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_config(sqlite_url, tmp_path) -> Callable[..., Config]:
    """Build a validated Config; keyword args are sections to merge, e.g. wechat={...}."""

    def build(**sections: dict) -> Config:
        data: dict = {
            # Tests drive the campaign scheduler and senders by hand (tests/scheduler).
            "server": {
                "port": 0,
                "run_scheduler": False,
                "run_senders": False,
                "spool_dir": str(tmp_path / "spool"),
            },
            "wechat": {
                "appid": APPID,
                "secret": SECRET,
                "token": TOKEN,
                "encoding_aes_key": AES_KEY,
                "api_base_url": "http://127.0.0.1:9/",
            },
            "database": {"url": sqlite_url},
        }
        for name, values in sections.items():
            if isinstance(values, list):  # an array of tables, e.g. faq=[{...}]
                data[name] = values
            else:
                data.setdefault(name, {}).update(values)
        return parse_config(data, env={})

    return build


@pytest.fixture
async def fake_wechat(aiohttp_server, clock):
    """The WeChat API simulator on a free loopback port, on the test's clock.

    Point a config at it with ``make_config(wechat={"api_base_url": fake_wechat.url})``;
    see demo/simulator/fake_wechat.py (FakeWeChatHandle) for .messages(), .open_window(), .inject().
    """
    from demo.simulator.fake_wechat import FakeWeChatHandle, create_fake_wechat

    app = create_fake_wechat(clock=clock, appid=APPID, secret=SECRET)
    server = await aiohttp_server(app)
    return FakeWeChatHandle(app, str(server.make_url("/")))


@pytest.fixture
def make_wechat(aiohttp_client, make_config, clock):
    """Start ``create_app`` under a test client; returns WeChat's side of the callback protocol.

    ``wechat = await make_wechat(wechat={"encrypt_mode": "safe"}, dispatcher=d)``: keyword
    sections go to ``make_config`` (or pass ``config=``); ``dispatcher`` replaces the bot's
    (a test-only router). The result (demo/simulator/callback.py CallbackClient) signs as WeChat
    on the test's clock: ``await wechat.send_text("oBuyer1", "会员") -> reply text | None``,
    ``await wechat.send_event(openid, "subscribe", key=None)``, ``wechat.request(params, body)``
    for raw bytes; ``wechat.app``, ``wechat.services`` and ``wechat.sessionmaker`` for assertions.
    """
    from bot.appkeys import DISPATCHER
    from demo.simulator.callback import CallbackClient, CallbackSigner
    from laoke.app import create_app

    async def start(*, config: Config | None = None, dispatcher=None, **sections):
        config = config or make_config(**sections)
        app = create_app(config, clock=clock)
        if dispatcher is not None:

            async def use_dispatcher(app):
                app[DISPATCHER] = dispatcher
                yield

            app.cleanup_ctx.append(use_dispatcher)
        client = await aiohttp_client(app)
        signer = CallbackSigner.from_config(config.wechat, now=lambda: clock.now().timestamp())
        return CallbackClient(signer, client, config.server.webhook_path, app=app)

    return start


@pytest.fixture
async def wechat(make_wechat):
    """The app on default test config (plain mode, SQLite), driven as WeChat drives it."""
    return await make_wechat()
