"""Shared fixtures: migrated databases (SQLite always, PostgreSQL when configured), a fake clock,
configuration factories.

PostgreSQL: set LAOKE_TEST_POSTGRES_URL (``.ci/run`` does) to a server URL such as
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``. Each test session creates its own
database on that server (so parallel runs never meet), migrates it once, and truncates every
table before each test. Without the variable, PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import FakeClock
from bot.config import Config, parse_config
from bot.database import upgrade
from bot.schema import metadata

PG_ENV = "LAOKE_TEST_POSTGRES_URL"

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, as WeChat issues them
APPID = "wx1234567890abcdef"
TOKEN = "laoke-test-token"


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


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    name = f"laoke_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(base, f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
def make_config(sqlite_url) -> Callable[..., Config]:
    """Build a validated Config; keyword args are sections to merge, e.g. wechat={...}."""

    def build(**sections: dict) -> Config:
        data: dict = {
            "server": {"port": 0},
            "wechat": {
                "appid": APPID,
                "secret": "laoke-test-secret",
                "token": TOKEN,
                "encoding_aes_key": AES_KEY,
                "api_base_url": "http://127.0.0.1:9/",
            },
            "database": {"url": sqlite_url},
        }
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        return parse_config(data, env={})

    return build
