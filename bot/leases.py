"""Named leases: at most one process at a time does a job, and a crashed holder's lease expires.

A ``leases`` row (name, holder, expires_at) is taken with one INSERT … ON CONFLICT DO
NOTHING, or taken over with one conditional UPDATE when it has expired or is already ours,
so it works the same on SQLite and PostgreSQL. The access-token refresh
(``bot/wechat/token_cache.py``), the campaign scheduler and the senders' recovery use it.
This module decides nothing about who should hold which lease or for how long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.database import dialect_insert
from bot.models import Lease


async def acquire_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    holder: str,
    now: datetime,
    ttl: timedelta,
) -> bool:
    """Take the named lease if it is free, expired or already ours; True if we hold it."""
    async with sessionmaker() as session, session.begin():
        stmt = dialect_insert(session, Lease).values(name=name, holder=holder, expires_at=now + ttl)
        result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        if result.rowcount == 1:
            return True
        result = await session.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.expires_at <= now) | (Lease.holder == holder))
            .values(holder=holder, expires_at=now + ttl)
        )
        return result.rowcount == 1


async def release_lease(
    sessionmaker: async_sessionmaker[AsyncSession], name: str, holder: str
) -> None:
    """Give the lease back (only if we still hold it)."""
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
