"""The database engine: async SQLAlchemy on SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode so readers never block the single writer, with a busy timeout so
concurrent writers queue instead of failing. This module opens engines and checks the schema
version; it holds no queries of its own (those live next to the domain that owns them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.config import DatabaseConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database schema is not at the latest migration."""


class DatabaseUnreachable(Exception):
    """The configured database cannot be opened: server down, wrong host, port or database
    name, login refused, or a SQLite file that cannot be created."""


@contextlib.asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection, or DatabaseUnreachable naming the database (password hidden).

    Only opening is covered: an error in a statement afterwards is not a reachability problem.
    """
    conn = engine.connect()
    try:
        await conn.start()
    except (OSError, DBAPIError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnreachable(
            f"cannot open the database {where}: {reason or type(reason).__name__}"
        ) from exc
    try:
        yield conn
    finally:
        await conn.close()


async def unavailable(engine: AsyncEngine, timeout_s: float = 2.0) -> str | None:
    """Why the database does not answer a trivial query within `timeout_s`, or None if it does."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # First: a connection opened while another one writes must wait, not fail, on the
    # journal_mode pragma below.
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode; only a power loss can
    # drop the last transactions, which is the trade-off SQLite documents for WAL.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _no_autocheckpoint(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


def create_engine(
    cfg: DatabaseConfig | str, *, background_checkpoints: bool = False
) -> AsyncEngine:
    """Open an async engine for the configured URL (creating the SQLite folder if needed).

    ``background_checkpoints``: SQLite's automatic WAL checkpoint runs inside whichever commit
    crosses the threshold and can cost that request several milliseconds; a long-running
    server turns it off and calls ``checkpoint`` from a background task instead (commands
    that run and exit keep SQLite's default).
    """
    if isinstance(cfg, str):
        cfg = DatabaseConfig(url=cfg)
    url = make_url(cfg.url)
    if is_sqlite(cfg.url):
        if url.database and url.database != ":memory:":
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnreachable(
                    f"cannot create {folder} for the SQLite database: {exc.strerror or exc}"
                ) from exc
        # An overflow connection is closed when returned, and an aiosqlite connection is a
        # thread and a file open: keep enough pooled for a busy webhook (16+ concurrent).
        engine = create_async_engine(
            cfg.url,
            echo=cfg.echo,
            hide_parameters=True,  # echo and errors must not print tokens or phone numbers
            pool_size=max(cfg.pool_size, 20),
            max_overflow=cfg.pool_size * 2,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if background_checkpoints:
            event.listen(engine.sync_engine, "connect", _no_autocheckpoint)
    else:
        # No pool_pre_ping: checking every connection on checkout cost a fifth of the
        # webhook's throughput on PostgreSQL (bench/webhook.py --postgres). After a restart
        # or failover the first statement on a dead connection fails, SQLAlchemy sees the
        # disconnect and drops the whole pool, and that one message goes to the spool
        # (bot/inbound/spool.py) instead of being lost.
        engine = create_async_engine(
            cfg.url,
            echo=cfg.echo,
            hide_parameters=True,
            pool_size=cfg.pool_size,
            max_overflow=cfg.pool_size * 2,
        )
    return engine


async def checkpoint(engine: AsyncEngine) -> None:
    """Fold the SQLite write-ahead log back into the database file without blocking writers."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _revision_of(sync_conn) -> str | None:
    # Reading the revision is not a migration: Alembic's two INFO lines about its context
    # ("Context impl SQLiteImpl.", "Will assume non-transactional DDL.") are not printed.
    migration_log = logging.getLogger("alembic.runtime.migration")
    if migration_log.isEnabledFor(logging.DEBUG):
        return MigrationContext.configure(sync_conn).get_current_revision()  # `laoke -v`
    saved = migration_log.level
    migration_log.setLevel(logging.WARNING)
    try:
        return MigrationContext.configure(sync_conn).get_current_revision()
    finally:
        migration_log.setLevel(saved)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with connect(engine) as conn:
        return await conn.run_sync(_revision_of)


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse to run on a schema that is not at the latest migration."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing (empty database)'}, this version needs "
            f"{head}: run `laoke db upgrade -c <config>` first"
        )


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (synchronous; Alembic drives its own event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def dialect_insert(session: AsyncSession, table):
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL's or SQLite's)."""
    dialect = session.bind.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)
