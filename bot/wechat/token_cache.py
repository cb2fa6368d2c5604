"""The access_token, cached in the database so every process shares one.

WeChat invalidates the previous token 5 minutes after a new fetch and allows 2,000 fetches a
day, so processes must not each fetch their own. The token lives in ``access_tokens`` (one
row per appid) and in memory; it is refreshed ``margin`` seconds before it expires, or at once
when WeChat rejects it. Only one process refreshes at a time: a ``leases`` row named
``access_token:<appid>`` (portable across SQLite and PostgreSQL, and it survives a crashed
holder because it expires; ``bot/leases.py``); inside one process an ``asyncio.Lock`` keeps tasks from racing.
Whoever waits for the lease rereads the table instead of fetching again.

This module does not talk HTTP: the caller passes the function that fetches a fresh token.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.database import dialect_insert
from bot.leases import acquire_lease, release_lease
from bot.models import AccessToken

log = logging.getLogger(__name__)

# fetch() -> (token, expires_in seconds)
Fetch = Callable[[], Awaitable[tuple[str, int]]]


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: datetime


async def load_token(
    sessionmaker: async_sessionmaker[AsyncSession], appid: str
) -> CachedToken | None:
    """The token stored for `appid`, if any."""
    async with sessionmaker() as session:
        row = await session.get(AccessToken, appid)
        return CachedToken(row.token, row.expires_at) if row else None


async def store_token(
    sessionmaker: async_sessionmaker[AsyncSession], appid: str, token: CachedToken, now: datetime
) -> None:
    """Save the token for every process (replacing the previous one)."""
    async with sessionmaker() as session, session.begin():
        values = {"token": token.token, "expires_at": token.expires_at, "fetched_at": now}
        stmt = dialect_insert(session, AccessToken).values(appid=appid, **values)
        await session.execute(stmt.on_conflict_do_update(index_elements=["appid"], set_=values))


class TokenCache:
    """One appid's access_token: memory, then the shared table, then WeChat."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        appid: str,
        fetch: Fetch,
        *,
        margin_s: float = 300,
        lease_s: float = 30,
        poll_s: float = 0.05,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.appid = appid
        self.fetch = fetch
        self.margin = timedelta(seconds=margin_s)
        self.lease_ttl = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.lease_name = f"access_token:{appid}"
        self.holder = uuid.uuid4().hex
        self._memory: CachedToken | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, cached: CachedToken | None) -> bool:
        return cached is not None and self.clock.now() < cached.expires_at - self.margin

    async def get(self) -> str:
        """A token that is not about to expire."""
        if self._fresh(self._memory):
            return self._memory.token
        async with self._lock:
            if self._fresh(self._memory):
                return self._memory.token
            stored = await load_token(self.sessionmaker, self.appid)
            if self._fresh(stored):
                self._memory = stored
                return stored.token
            return await self._refresh(stale=stored.token if stored else None)

    async def refresh(self, stale: str) -> str:
        """WeChat rejected `stale`: a newer token (fetched unless another task already did)."""
        async with self._lock:
            if (
                self._memory is not None
                and self._memory.token != stale
                and self._fresh(self._memory)
            ):
                return self._memory.token
            return await self._refresh(stale=stale)

    async def _refresh(self, stale: str | None) -> str:
        """Fetch under the shared lease; waiters pick up the holder's token from the table."""
        loop = asyncio.get_running_loop()
        # Wait for a holder in real time (not the injected clock, which may stand still).
        give_up_at = loop.time() + self.lease_ttl.total_seconds()
        while not await acquire_lease(
            self.sessionmaker, self.lease_name, self.holder, self.clock.now(), self.lease_ttl
        ):
            stored = await load_token(self.sessionmaker, self.appid)
            if stored is not None and stored.token != stale and self._fresh(stored):
                self._memory = stored
                return stored.token
            if loop.time() >= give_up_at:
                log.warning("access_token lease %s still held; fetching anyway", self.lease_name)
                break
            await asyncio.sleep(self.poll_s)
        try:
            # Another process may have refreshed between our read and taking the lease.
            stored = await load_token(self.sessionmaker, self.appid)
            if stored is not None and stored.token != stale and self._fresh(stored):
                self._memory = stored
                return stored.token
            token, expires_in = await self.fetch()
            now = self.clock.now()
            fresh = CachedToken(token, now + timedelta(seconds=expires_in))
            await store_token(self.sessionmaker, self.appid, fresh, now)
            self._memory = fresh
            log.info("access_token refreshed for %s (expires in %ss)", self.appid, expires_in)
            return token
        finally:
            await release_lease(self.sessionmaker, self.lease_name, self.holder)
