"""``laoke backup`` and ``laoke restore``: a copy taken while buyers write and a campaign sends
holds every message and delivery stored before it began, and answers those messages the same
way once restored; a backup from a newer schema is refused in plain words."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from campaign_world import BUYERS, seed_campaign
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from bot.database import create_engine, head_revision, upgrade
from bot.models import Buyer, InboundMessage
from laoke.cli import main
from ops.backup import BackupError, restore_backup, take_backup
from scheduler.models import SENT, Delivery


async def sent_ids(url: str) -> set[int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.scalars(select(Delivery.id).where(Delivery.status == SENT)))
    finally:
        await engine.dispose()


async def test_backup_under_write_load_restores_every_message_and_delivery(
    make_config, make_wechat, fake_wechat, clock, sqlite_url, tmp_path
):
    config = make_config(
        wechat={**fake_wechat.wechat_config(), "busy_retries": 0},
        campaigns={"rate_limit_per_s": 100000.0, "batch_size": 20, "cap_per_day": 0,
                   "cap_per_week": 0},
    )  # fmt: skip
    wechat = await make_wechat(config=config)
    sender, _, closers = await seed_campaign(config, clock, fake_wechat)
    answered: dict[int, str | None] = {}  # msg_id → the reply WeChat got
    stop, enough = asyncio.Event(), asyncio.Event()

    async def buyer(n: int) -> None:
        i = 0
        while not stop.is_set():
            msg_id = 10_000_000 * (n + 1) + i
            answered[msg_id] = await wechat.send_text(f"oChat{n}", f"问题 {i}", msg_id=msg_id)
            if len(answered) >= 40:
                enough.set()
            i += 1

    async def campaign_sender() -> None:
        while not stop.is_set() and await sender.run_once():
            pass

    load = [asyncio.create_task(buyer(n)) for n in range(4)]
    load.append(asyncio.create_task(campaign_sender()))
    await enough.wait()
    before = dict(answered)  # answered before the backup began: all must be in it
    sent_before = await sent_ids(sqlite_url)
    backup = tmp_path / "backups" / "laoke.db"
    await asyncio.to_thread(take_backup, sqlite_url, backup)
    during = len(answered) - len(before)
    stop.set()
    await asyncio.gather(*load)
    for closer in closers:
        await (closer.dispose() if hasattr(closer, "dispose") else closer.close())
    assert during > 0, "the backup ran while buyers were writing"
    assert sent_before, "the campaign was sending when the backup began"

    restored_url = f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'laoke.db'}"
    assert restore_backup(backup, restored_url).migrated_to is None
    engine = create_engine(restored_url)
    async with engine.connect() as conn:
        deliveries = await conn.scalar(select(func.count()).select_from(Delivery))
        stored = set(await conn.scalars(select(InboundMessage.dedup_key)))
    await engine.dispose()
    assert deliveries == BUYERS
    assert sent_before <= await sent_ids(restored_url)
    assert all(any(k.endswith(str(m)) for k in stored) for m in before), "a message is missing"

    # Restored, the bot answers WeChat's retry of every stored message exactly as before.
    again = await make_wechat(config=make_config(
        wechat=fake_wechat.wechat_config(), database={"url": restored_url}
    ))  # fmt: skip
    for msg_id, reply in before.items():
        n = msg_id // 10_000_000 - 1
        assert await again.send_text(f"oChat{n}", "重发", msg_id=msg_id) == reply


def test_restore_refuses_a_backup_from_a_newer_schema_and_says_so(sqlite_url, tmp_path):
    backup = tmp_path / "new.db"
    take_backup(sqlite_url, backup)
    with sqlite3.connect(backup) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    config = tmp_path / "config.toml"
    target = tmp_path / "target" / "laoke.db"
    config.write_text(
        f'[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{target}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["restore", "-c", str(config), str(backup)])
    assert result.exit_code == 1
    assert "taken by a newer version of Laoke (database schema 0099)" in result.output
    assert f"only knows schemas up to {head_revision()}" in result.output
    with sqlite3.connect(target) as conn:  # nothing was written into the database
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_restore_of_an_older_schema_migrates_it(tmp_path):
    old_url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(old_url, "0017")
    backup = tmp_path / "old-backup.db"
    assert take_backup(old_url, backup).revision == "0017"
    info = restore_backup(backup, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    assert (info.revision, info.migrated_to) == ("0017", head_revision())


def test_restore_over_a_database_with_buyers_needs_replace(sqlite_url, tmp_path):
    backup = tmp_path / "b.db"
    take_backup(sqlite_url, backup)
    with sqlite3.connect(make_path(sqlite_url)) as conn:
        conn.execute(
            "INSERT INTO buyers (openid, subscribed, opted_out, tags, channels, interests, "
            "first_seen_at, orders_12m, spend_12m, orders_total) "
            "VALUES ('oX', 1, 0, '[]', '[]', '[]', '2026-05-01 00:00:00', 0, 0, 0)"
        )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    refused = CliRunner().invoke(main, ["restore", "-c", str(config), str(backup)])
    assert refused.exit_code == 1 and "--replace" in refused.output
    done = CliRunner().invoke(main, ["restore", "-c", str(config), str(backup), "--replace"])
    assert done.exit_code == 0, done.output
    with sqlite3.connect(make_path(sqlite_url)) as conn:
        assert conn.execute("SELECT count(*) FROM buyers").fetchone()[0] == 0


def test_a_postgres_backup_cannot_be_restored_into_sqlite(sqlite_url, tmp_path):
    dump = tmp_path / "laoke.dump"
    dump.write_bytes(b"PGDMP\x01\x0f")
    with pytest.raises(BackupError, match="not a SQLite backup"):
        restore_backup(dump, sqlite_url)


@pytest.mark.postgres
def test_postgres_backup_and_restore_round_trip(pg_url, empty_pg_url, tmp_path):
    async def add_buyer(url: str) -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                insert(Buyer).values(openid="oPg", subscribed=True, opted_out=False, tags=[],
                                     channels=[], interests=[], orders_12m=0, spend_12m=0.0,
                                     orders_total=0, first_seen_at=func.now())
            )  # fmt: skip
        await engine.dispose()

    async def buyers(url: str) -> list[str]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            found = list(await conn.scalars(select(Buyer.openid)))
        await engine.dispose()
        return found

    asyncio.run(add_buyer(pg_url))
    info = take_backup(pg_url, tmp_path / "laoke.dump")
    assert info.revision == head_revision()
    restore_backup(info.path, empty_pg_url)
    assert asyncio.run(buyers(empty_pg_url)) == ["oPg"]


def make_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))
