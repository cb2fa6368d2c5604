"""``laoke doctor``: is this installation wired right? One finding per check, each with what to do.

The checks, in order: the configuration; the database (reachable, at the latest migration);
WeChat (the credentials by a token fetch, the clock against WeChat's, the public callback URL
answering WeChat's verification with this token, template ids and the custom menu against the
account — ``ops/doctor_wechat.py``); the spool folder (writable, free space, messages waiting);
the scheduler lease (held, by a process that is alive). A check that needs an earlier one
which failed is skipped and says so.

It reads and probes; it changes nothing (the spool probe file is removed at once).
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from datetime import datetime
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import Config, ConfigError, load_config, refuse_placeholders
from bot.database import (
    DatabaseUnreachable,
    create_engine,
    current_revision,
    head_revision,
    sessionmaker,
)
from bot.inbound.spool import Spool, SpoolError
from bot.models import Lease
from content.menu import PUBLISHED, PULLED, latest_menu
from content.template_messages import mappings
from ops.doctor_wechat import Platform
from ops.findings import FAIL, OK, SKIP, WARN, Finding
from scheduler.loop import LEASE_NAME

SPOOL_FAIL_BYTES = 100 * 1024**2
SPOOL_WARN_BYTES = 1024**3


def check_config(path: Path) -> tuple[Finding, Config | None]:
    """The configuration loads, validates, and has no placeholder left."""
    try:
        config = load_config(path)
        refuse_placeholders(config)
    except ConfigError as exc:
        return Finding(
            "configuration", FAIL, str(exc), "fix that key (config.example.toml explains each)"
        ), None
    return Finding("configuration", OK, f"{path} is valid"), config


async def check_database(engine: AsyncEngine) -> Finding:
    """Reachable and at the migration this version needs."""
    try:
        current = await current_revision(engine)
    except DatabaseUnreachable as exc:
        return Finding("database", FAIL, str(exc), "start the database or correct [database] url")
    head = head_revision()
    if current != head:
        return Finding(
            "database",
            FAIL,
            f"schema at {current or 'nothing (empty database)'}, this version needs {head}",
            "run `laoke db upgrade -c <config>`",
        )
    return Finding("database", OK, f"reachable, schema at the latest migration ({head})")


def check_spool(folder: Path) -> Finding:
    """Writable, with room, and empty (messages waiting mean the database was unreachable)."""
    try:
        Spool(folder).prepare()
        probe = folder / f".doctor-{uuid.uuid4().hex}.tmp"
        probe.write_bytes(b"probe")
        probe.unlink()
    except (SpoolError, OSError) as exc:
        return Finding(
            "spool",
            FAIL,
            f"{folder} is not writable: {exc}",
            "create it, owned by the user laoke runs as ([server] spool_dir)",
        )
    free = shutil.disk_usage(folder).free
    waiting = len(Spool(folder).pending())
    detail = f"{folder} writable, {free / 1024**3:.1f} GiB free"
    if free < SPOOL_FAIL_BYTES:
        return Finding("spool", FAIL, detail, "free disk space: messages are kept here in outages")
    if waiting:
        return Finding(
            "spool",
            WARN,
            f"{detail}, {waiting} messages waiting for the database",
            "they are handled as soon as `laoke serve` reaches the database",
        )
    if free < SPOOL_WARN_BYTES:
        return Finding("spool", WARN, detail, "free disk space soon")
    return Finding("spool", OK, detail)


def _alive_here(holder: str) -> bool | None:
    """Whether the process named in a lease holder (role:host:pid:suffix) is alive, when it
    runs on this machine; None when it runs elsewhere (its lease expiry is all we know)."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[1] != socket.gethostname()[:24] or not parts[2].isdigit():
        return None
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def check_scheduler(engine: AsyncEngine, now: datetime) -> Finding:
    """A live process holds the scheduler lease (campaigns only go out while one does)."""
    async with sessionmaker(engine)() as session:
        lease = await session.scalar(select(Lease).where(Lease.name == LEASE_NAME))
    fix = "start `laoke serve` with [server] run_scheduler = true (systemctl start laoke-serve@…)"
    if lease is None or lease.expires_at <= now:
        return Finding("scheduler", FAIL, "no process holds the scheduler lease", fix)
    if _alive_here(lease.holder) is False:
        return Finding(
            "scheduler",
            FAIL,
            f"the lease holder ({lease.holder}) is dead; another takes over when it expires",
            fix,
        )
    left = (lease.expires_at - now).total_seconds()
    return Finding("scheduler", OK, f"held by {lease.holder} (renewed, {left:.0f} s left)")


async def _published_menu(engine: AsyncEngine) -> list | None:
    """The menu Laoke last put on the account or read from it (a draft is neither)."""
    async with sessionmaker(engine)() as session:
        seen = [await latest_menu(session, status) for status in (PUBLISHED, PULLED)]
    newest = max((m for m in seen if m is not None), key=lambda m: m.id, default=None)
    return newest.buttons if newest is not None else None


async def _template_ids(engine: AsyncEngine, config: Config) -> dict[str, str]:
    wanted = {p: t for p, t in config.wechat.template_ids.items() if t}
    async with sessionmaker(engine)() as session:
        for purpose, row in (await mappings(session)).items():
            if row.template_id:
                wanted[purpose] = row.template_id
    return wanted


async def examine(config: Config, clock: Clock, http: aiohttp.ClientSession) -> list[Finding]:
    """Every check after the configuration, in order."""
    findings: list[Finding] = []
    engine = create_engine(config.database)
    try:
        database = await check_database(engine)
        findings.append(database)
        db_ok = database.status == OK
        platform = Platform(config, clock, http)
        credentials, token = await platform.credentials()
        findings.append(credentials)
        findings.append(
            platform.clock_skew(token) if token else Finding("clock", SKIP, "needs a token fetch")
        )
        findings.append(await platform.callback())
        if token and db_ok:
            findings.append(await platform.template_ids(token, await _template_ids(engine, config)))
            findings.append(await platform.menu(token, await _published_menu(engine)))
        else:
            needs = "needs the database and a token fetch"
            findings += [Finding("templates", SKIP, needs), Finding("menu", SKIP, needs)]
        findings.append(check_spool(Path(config.server.spool_dir)))
        if db_ok:
            findings.append(await check_scheduler(engine, clock.now()))
        else:
            findings.append(Finding("scheduler", SKIP, "needs the database"))
    finally:
        await engine.dispose()
    return findings
