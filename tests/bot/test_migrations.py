"""Migrations build exactly the tables the models declare, on SQLite and on PostgreSQL.

Whatever migrations exist now are checked: a feature that adds a model column without a
migration (or the reverse) fails here.
"""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.database import alembic_config, create_engine, current_revision, head_revision, upgrade
from laoke.schema import metadata


async def schema_diff(url: str) -> list:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


async def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request, tmp_path):
    """A database with nothing in it, on each engine."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    return request.getfixturevalue("empty_pg_url")


def test_upgrade_builds_exactly_the_models(empty_db_url):
    upgrade(empty_db_url)
    assert asyncio.run(revision(empty_db_url)) == head_revision()
    assert asyncio.run(schema_diff(empty_db_url)) == []


def test_downgrade_to_nothing_and_upgrade_again(empty_db_url):
    upgrade(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    assert asyncio.run(revision(empty_db_url)) is None
    upgrade(empty_db_url)
    assert asyncio.run(schema_diff(empty_db_url)) == []


def test_upgrade_twice_is_harmless(empty_db_url):
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    assert asyncio.run(revision(empty_db_url)) == head_revision()


def test_sqlite_database_runs_in_wal_mode(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/wal.db"
    upgrade(url)

    async def journal_mode() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        finally:
            await engine.dispose()

    assert asyncio.run(journal_mode()) == "wal"
