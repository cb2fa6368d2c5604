"""Backup and restore of the database, while Laoke serves.

SQLite: SQLite's online backup API copies every page in one step under one read transaction,
so the copy is one consistent moment of the database; in WAL mode that read blocks no writer,
and the webhook keeps answering during it. The copy is a single self-contained file (its
journal mode set back to DELETE) checked with ``PRAGMA integrity_check`` before it is renamed
into place, so a half-written backup never has the final name.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot, also online) and
``pg_restore --clean --single-transaction``, run when they are installed; docs/deployment.md
gives the same commands for doing it by hand.

Either way a restore first reads the schema revision stored in the backup (Alembic's
``alembic_version``) and refuses one this version of Laoke does not know: it was taken by a
newer Laoke. A backup from an older schema is restored and then migrated. This module does not
schedule backups or rotate old ones (cron or a systemd timer does; docs/deployment.md).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.database import alembic_config, connect, create_engine, head_revision, is_sqlite, upgrade
from bot.models import Buyer, InboundMessage

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    revision: str
    size_bytes: int


@dataclass(frozen=True)
class RestoreInfo:
    revision: str  # the schema the backup held
    migrated_to: str | None  # the head it was migrated to, when it was older


# --- schema revisions ------------------------------------------------------------------------
def check_restorable(revision: str | None) -> bool:
    """Whether a backup at `revision` can be restored here; True when it needs migrating.

    Raises BackupError for a backup with no schema or one from a newer Laoke."""
    head = head_revision()
    if not revision:
        raise BackupError("this file holds no Laoke schema (no alembic_version): not a backup")
    if revision == head:
        return False
    try:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"this backup was taken by a newer version of Laoke (database schema {revision}); "
            f"this version only knows schemas up to {head}. Install the version of Laoke that "
            "took the backup (or a later one), then restore it."
        )
    return True


# --- SQLite ----------------------------------------------------------------------------------
def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _stored_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def backup_sqlite(url: str, dest: Path) -> BackupInfo:
    """Copy the SQLite database at `url` to `dest` (one consistent moment, while serving)."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}: run `laoke db upgrade` first")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # pages=-1: every page in one step, one snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            verdict = target.execute("PRAGMA integrity_check").fetchone()[0]
            revision = _stored_revision(target)
        finally:
            target.close()
    finally:
        source.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed SQLite's integrity check: {verdict}")
    if not revision:
        partial.unlink(missing_ok=True)
        raise BackupError("the database holds no schema: run `laoke db upgrade` first")
    os.replace(partial, dest)
    return BackupInfo(dest, revision, dest.stat().st_size)


def restore_sqlite(backup: Path, url: str) -> RestoreInfo:
    """Replace the SQLite database at `url` by `backup`, then migrate it if it is older."""
    reader = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        verdict = reader.execute("PRAGMA integrity_check").fetchone()[0]
        revision = _stored_revision(reader)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a readable SQLite backup: {exc}") from None
    finally:
        reader.close()
    if verdict != "ok":
        raise BackupError(f"{backup} is damaged (SQLite's integrity check: {verdict})")
    older = check_restorable(revision)
    target_path = sqlite_path(url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        # Through the backup API, not a file copy: the target's WAL and shared-memory files
        # stay consistent with the pages written.
        target = sqlite3.connect(target_path, timeout=30)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()
    return _migrated(revision, url, older)


def _migrated(revision: str, url: str, older: bool) -> RestoreInfo:
    if not older:
        return RestoreInfo(revision, None)
    upgrade(url)
    return RestoreInfo(revision, head_revision())


# --- PostgreSQL ------------------------------------------------------------------------------
def _pg_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for the pg_ tools (no driver, no password) and the environment with the
    password in PGPASSWORD (kept off the command line, which other users can read)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client) or see docs/deployment.md"
        )
    return found


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tool = Path(args[0]).name
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def dump_revision(dump: Path) -> str | None:
    """The schema revision stored in a pg_dump custom-format file."""
    sql = _run(
        [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump)],
        dict(os.environ),
    )
    match = re.search(r"^COPY \S*alembic_version .*?FROM stdin;\n([^\n\\]+)\n", sql, re.M)
    return match.group(1).strip() if match else None


def backup_postgres(url: str, dest: Path) -> BackupInfo:
    """``pg_dump --format=custom`` of the database at `url` into `dest`."""
    target, env = _pg_target(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", target], env)
    revision = dump_revision(partial)
    if not revision:
        partial.unlink(missing_ok=True)
        raise BackupError("the database holds no schema: run `laoke db upgrade` first")
    os.replace(partial, dest)
    return BackupInfo(dest, revision, dest.stat().st_size)


def restore_postgres(dump: Path, url: str) -> RestoreInfo:
    """Replace the tables of the database at `url` by those in `dump` (one transaction)."""
    revision = dump_revision(dump)
    older = check_restorable(revision)
    target, env = _pg_target(url)
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={target}",
            str(dump),
        ],
        env,
    )
    return _migrated(revision, url, older)


# --- either ----------------------------------------------------------------------------------
def take_backup(url: str, dest: Path) -> BackupInfo:
    """A backup of the configured database into `dest`."""
    return backup_sqlite(url, dest) if is_sqlite(url) else backup_postgres(url, dest)


def restore_backup(backup: Path, url: str) -> RestoreInfo:
    """Restore `backup` into the configured database, refusing a mismatched or newer one."""
    try:
        with backup.open("rb") as f:
            magic = f.read(16)
    except OSError as exc:
        raise BackupError(f"cannot read {backup}: {exc.strerror or exc}") from None
    if is_sqlite(url):
        if magic != SQLITE_MAGIC:
            raise BackupError(f"{backup} is not a SQLite backup (the database is SQLite)")
        return restore_sqlite(backup, url)
    if not magic.startswith(PG_DUMP_MAGIC):
        raise BackupError(
            f"{backup} is not a pg_dump custom-format file (the database is PostgreSQL)"
        )
    return restore_postgres(backup, url)


def default_name(url: str, stamp: str) -> str:
    """``laoke-<stamp>.db`` for SQLite, ``laoke-<stamp>.dump`` for PostgreSQL."""
    return f"laoke-{stamp}.{'db' if is_sqlite(url) else 'dump'}"


async def holds_data(url: str) -> bool:
    """Whether the configured database already has buyers or messages (a restore over it
    replaces them: the operator must say so)."""
    engine = create_engine(url)
    try:
        async with connect(engine) as conn:
            for table in (Buyer, InboundMessage):
                try:
                    if await conn.scalar(select(func.count()).select_from(table)):
                        return True
                except DBAPIError:  # no such table: a database never migrated
                    return False
    finally:
        await engine.dispose()
    return False
