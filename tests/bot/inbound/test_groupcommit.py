"""The group-commit writer: batched work commits together, a bad item fails alone, a locked
SQLite database is waited for without blocking the event loop."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.database import create_engine
from bot.inbound.groupcommit import GroupCommit
from bot.models import Lease


@pytest.fixture
async def writer(db_url):
    engine = create_engine(db_url)
    gc = GroupCommit(engine)
    gc.start()
    yield gc
    await gc.close()
    await engine.dispose()


def add_lease(name: str):
    def work(conn):
        conn.execute(
            Lease.__table__.insert().values(
                name=name, holder="t", expires_at=text("CURRENT_TIMESTAMP")
            )
        )
        return name

    return work


async def leases(writer) -> int:
    async with writer.engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(Lease))


async def test_queued_work_commits_and_each_item_gets_its_result(writer):
    results = await asyncio.gather(*(writer.run(add_lease(f"l{i}")) for i in range(20)))
    assert results == [f"l{i}" for i in range(20)]
    assert await leases(writer) == 20


async def test_a_failing_item_fails_alone(writer):
    def broken(conn):
        raise ValueError("bad item")

    results = await asyncio.gather(
        writer.run(add_lease("a")),
        writer.run(broken),
        writer.run(add_lease("b")),
        return_exceptions=True,
    )
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], ValueError)
    assert await leases(writer) == 2


async def test_statement_lists_are_written_whole_or_not_at_all(writer, clock):
    stmt = Lease.__table__.insert()
    good = [{"name": f"m{i}", "holder": "t", "expires_at": clock.now()} for i in range(3)]
    await writer.write([(stmt, row) for row in good])
    assert await leases(writer) == 3
    bad = [
        {"name": "n1", "holder": "t", "expires_at": clock.now()},
        {"name": "n2", "holder": "t", "expires_at": None},
    ]
    with pytest.raises((sqlite3.IntegrityError, IntegrityError)):  # expires_at is NOT NULL
        await writer.write([(stmt, row) for row in bad])
    assert await leases(writer) == 3


async def test_locked_sqlite_is_waited_for_off_the_event_loop(sqlite_url):
    engine = create_engine(sqlite_url)
    gc = GroupCommit(engine)
    gc.start()
    blocker = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    try:
        await gc.run(add_lease("first"))  # the database is in WAL mode from here on
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        pending = asyncio.create_task(gc.run(add_lease("late")))
        ticks = 0
        for _ in range(5):  # the loop keeps running while the writer waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5 and not pending.done()
        blocker.execute("COMMIT")
        assert await pending == "late"
        assert await leases(gc) == 2
    finally:
        blocker.close()
        await gc.close()
        await engine.dispose()
