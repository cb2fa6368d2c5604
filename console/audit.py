"""The audit log: who changed what, when, from where, with the before and after.

``record`` is the one way to write an entry; the console's POST handlers, the ``/api`` write
hook and the ``laoke user`` commands call it inside the transaction of the change, so an
entry exists exactly when the change does. The actor's name is copied into the entry, so it
reads the same after the account is gone. Browsing and the CSV export read with
``find_entries``. This module does not decide what is worth recording: its callers do.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from console.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff account (id and name), or a named service with no id."""

    id: int | None
    name: str
    address: str | None = None


CLI_ACTOR = Actor(None, "命令行")
SERVICE_TOKEN_ACTOR = Actor(None, "API 服务令牌")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    obj: tuple[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to `session`'s transaction; `obj` is ``(object type, object id)``."""
    object_type, object_id = obj
    entry = AuditEntry(
        at=at or Clock().now(),
        actor_id=actor.id,
        actor_name=actor.name[:64],
        address=(actor.address or "")[:64] or None,
        action=action[:64],
        object_type=object_type[:32],
        object_id=None if object_id is None else str(object_id)[:64],
        before=_jsonable(before),
        after=_jsonable(after),
    )
    session.add(entry)
    return entry


async def redact(session: AsyncSession, obj: tuple[str, Any], actions: tuple[str, ...]) -> int:
    """Blank the before/after of `obj`'s entries with these actions (the entries stay: who did
    what, when). For erasing a buyer's personal data, which earlier entries may quote."""
    object_type, object_id = obj
    result = await session.execute(
        update(AuditEntry)
        .where(
            AuditEntry.object_type == object_type,
            AuditEntry.object_id == str(object_id),
            AuditEntry.action.in_(actions),
        )
        .values(before=None, after={"redacted": True})
    )
    return int(result.rowcount or 0)


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


async def find_entries(
    session: AsyncSession, filters: AuditFilter, *, before_id: int | None = None, limit: int = 50
) -> list[AuditEntry]:
    """Entries matching `filters`, newest first, keyset-paginated by id."""
    query = select(AuditEntry)
    if filters.actor:
        query = query.where(AuditEntry.actor_name == filters.actor)
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.action:
        query = query.where(AuditEntry.action.startswith(filters.action, autoescape=True))
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


CSV_HEADER = (
    "时间 (UTC)",
    "操作人",
    "操作人ID",
    "IP",
    "操作",
    "对象类型",
    "对象ID",
    "修改前",
    "修改后",
)


def neutralise(cell: str) -> str:
    """A cell Excel/WPS will not run as a formula (OWASP's CSV-injection advice)."""
    if cell and cell[0] in "=+-@\t\r":
        return "'" + cell
    return cell


def entries_csv(entries: Iterable[AuditEntry]) -> bytes:
    """The entries as CSV: UTF-8 with a BOM (so Excel and WPS read Chinese), formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow([neutralise(c) for c in _row(e)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _row(e: AuditEntry) -> Sequence[str]:
    def dump(value: dict | None) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    return (
        e.at.strftime("%Y-%m-%d %H:%M:%S"),
        e.actor_name,
        "" if e.actor_id is None else str(e.actor_id),
        e.address or "",
        e.action,
        e.object_type,
        e.object_id or "",
        dump(e.before),
        dump(e.after),
    )
