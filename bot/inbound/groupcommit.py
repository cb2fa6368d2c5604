"""Group commit: the webhook's short write transactions, batched, one writer per process.

Every message needs two small writes around its handler: the claim (inbound row + buyer
upsert) and the outcome (inbound status + reply record). Done one transaction each through
aiosqlite, every statement is a hop to a driver thread and back, and SQLite lets one writer in
at a time anyway. Here a single writer takes whatever work has queued up while it was busy
and runs it as one transaction.

On SQLite the batch first runs right on the event loop over the standard ``sqlite3`` driver,
with no busy wait: a batch is a few precompiled statements (``bot/inbound/prepared.py``) and one
commit, cheaper than handing it to a thread (which, under the GIL, mostly means waiting for
the thread to be scheduled). If the database is locked — by another process, or by a handler's
open transaction — or anything else goes wrong, the batch runs in the writer's own thread
instead, which may wait for the lock without holding up the loop. The loop's connection does
not checkpoint the WAL itself (a checkpoint can take milliseconds); the thread does it every
few hundred batches. Elsewhere (PostgreSQL) batches run over the async engine with
``run_sync``.

Work items are plain functions of a synchronous SQLAlchemy ``Connection``, or lists of
(statement, parameters) that need no result: those are gathered across the batch and run as
one ``executemany`` per statement, after the functions. If a batch fails, its items are
retried one transaction each, so one bad item fails alone. This module knows nothing of
messages; ``bot/inbound/dedup.py`` and ``bot/inbound/buyers.py`` provide the work.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.database import _sqlite_pragmas
from bot.inbound.prepared import run_many

T = TypeVar("T")
Statements = list[tuple[Any, dict[str, Any]]]
Work = Callable[[Connection], Any] | Statements

MAX_BATCH = 64
CHECKPOINT_EVERY = 200  # batches committed on the loop between two WAL checkpoints


class GroupCommit:
    """A queue of write work run by one writer, many items per transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.queue: list[tuple[Work, asyncio.Future]] = []
        self.wakeup = asyncio.Event()
        self.sync_engine: sa.Engine | None = None
        self.executor: ThreadPoolExecutor | None = None
        # A file, not ":memory:" (which a second connection would not see).
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            url = engine.url.set(drivername="sqlite+pysqlite")
            # The writer thread's connection (it may wait for the lock).
            self.sync_engine = sa.create_engine(url, poolclass=sa.pool.SingletonThreadPool)
            sa.event.listen(self.sync_engine, "connect", _sqlite_pragmas)
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="laoke-writer")
        self.task: asyncio.Task | None = None
        self.closing = False
        self.inline_batches = 0
        self.inline_engine: sa.Engine | None = None

    def start(self) -> None:
        if self.executor is not None:
            self.executor.submit(self._open_inline_connection)
        self.task = asyncio.create_task(self._writer(), name="laoke-group-commit")

    async def close(self) -> None:
        """Finish queued work, then stop the writer."""
        self.closing = True
        self.wakeup.set()
        if self.task is not None:
            await self.task
        if self.executor is not None:
            self.executor.submit(self._checkpoint).result()
            self.executor.shutdown()
            self.sync_engine.dispose()
            if self.inline_engine is not None:
                self.inline_engine.pool.dispose()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in the next batch's transaction; returns its result once committed."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queue.append((work, future))
        self.wakeup.set()
        return await future

    async def write(self, statements: Statements) -> None:
        """Run result-less writes in the next batch (executemany'd with their kind)."""
        await self.run(statements)

    async def _writer(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
                try:
                    outcomes = await self._execute([work for work, _ in batch])
                except Exception as exc:  # the database is unreachable: every item fails
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            if self.closing:
                return

    async def _execute(self, works: list[Work]) -> list[tuple[bool, Any]]:
        if self.executor is not None:
            outcomes = self._run_sqlite_inline(works)
            if outcomes is not None:
                return outcomes
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, self._run_sqlite, works)
        async with self.engine.connect() as conn:
            return await conn.run_sync(run_batch, works)

    def _run_sqlite_inline(self, works: list[Work]) -> list[tuple[bool, Any]] | None:
        """The batch on the loop's own connection, or None if SQLite cannot take it at once."""
        assert self.sync_engine is not None and self.executor is not None
        if self.inline_engine is None:
            return None
        try:
            with self.inline_engine.connect() as conn, conn.begin():
                results = _run(conn, works)
        except Exception:  # locked, or a bad item: the thread's path sorts it out
            return None
        self.inline_batches += 1
        if self.inline_batches % CHECKPOINT_EVERY == 0:
            self.executor.submit(self._checkpoint)
        return [(True, value) for value in results]

    def _open_inline_connection(self) -> None:
        """Open the loop's connection (in the writer thread: opening may wait for a lock)."""
        assert self.sync_engine is not None
        dbapi = sqlite3.connect(self.sync_engine.url.database, check_same_thread=False)
        _sqlite_pragmas(dbapi, None)
        dbapi.execute("PRAGMA busy_timeout=0")  # never wait on the loop
        dbapi.execute("PRAGMA wal_autocheckpoint=0")  # the thread checkpoints
        self.inline_engine = sa.create_engine(
            "sqlite+pysqlite://", creator=lambda: dbapi, poolclass=sa.pool.StaticPool
        )

    def _checkpoint(self) -> None:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _run_sqlite(self, works: list[Work]) -> list[tuple[bool, Any]]:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn:
            return run_batch(conn, works)


def run_batch(conn: Connection, works: list[Work]) -> list[tuple[bool, Any]]:
    """All of `works` in one transaction; if that fails, each in its own."""
    try:
        with conn.begin():
            return [(True, value) for value in _run(conn, works)]
    except Exception as exc:
        if len(works) == 1:
            return [(False, exc)]
    outcomes: list[tuple[bool, Any]] = []
    for work in works:
        try:
            with conn.begin():
                outcomes.append((True, _run(conn, [work])[0]))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _run(conn: Connection, works: list[Work]) -> list[Any]:
    results: list[Any] = []
    many: dict[Any, list[dict[str, Any]]] = {}
    for work in works:
        if isinstance(work, list):
            for stmt, params in work:
                many.setdefault(stmt, []).append(params)
            results.append(None)
        else:
            results.append(work(conn))
    for stmt, rows in many.items():
        run_many(conn, stmt, rows)
    return results
