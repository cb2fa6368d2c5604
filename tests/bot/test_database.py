"""The SQLite engine a long-running server uses: WAL checkpoints out of request commits."""

from __future__ import annotations

from sqlalchemy import text

from bot.database import checkpoint, create_engine


async def test_server_engine_leaves_checkpoints_to_the_background_task(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", background_checkpoints=True)
    try:
        async with engine.begin() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
        for _ in range(30):  # well past SQLite's default threshold of 1000 pages
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:x)"), [{"x": "y" * 4000} for _ in range(40)]
                )
        wal = tmp_path / "c.db-wal"
        assert wal.stat().st_size > 1000 * 4096  # no commit checkpointed on its own

        await checkpoint(engine)
        async with engine.connect() as conn:
            busy, frames, done = (
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            ).one()
        assert busy == 0 and frames == done  # every frame is in the database file now
    finally:
        await engine.dispose()


async def test_commands_keep_sqlites_automatic_checkpoints(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        await engine.dispose()
