"""The shared access_token cache and its refresh lease, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.leases import acquire_lease, release_lease
from bot.wechat.token_cache import (
    CachedToken,
    TokenCache,
    load_token,
    store_token,
)

APPID = "wx_cache"
LEASE = f"access_token:{APPID}"


class Fetcher:
    """Stands in for WeChat's token endpoint and counts the fetches."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> tuple[str, int]:
        self.count += 1
        return f"token-{self.count}", 7200


async def test_lease_is_exclusive_until_released_or_expired(sessions, clock):
    ttl = timedelta(seconds=30)
    assert await acquire_lease(sessions, LEASE, "a", clock.now(), ttl)
    assert not await acquire_lease(sessions, LEASE, "b", clock.now(), ttl)
    assert await acquire_lease(sessions, LEASE, "a", clock.now(), ttl)  # renewing is fine
    await release_lease(sessions, LEASE, "b")  # not b's to release
    assert not await acquire_lease(sessions, LEASE, "b", clock.now(), ttl)
    clock.advance(seconds=31)
    assert await acquire_lease(sessions, LEASE, "b", clock.now(), ttl)  # a crashed holder
    await release_lease(sessions, LEASE, "b")
    assert await acquire_lease(sessions, LEASE, "a", clock.now(), ttl)


async def test_stored_token_is_used_without_fetching(sessions, clock):
    await store_token(
        sessions, APPID, CachedToken("shared", clock.now() + timedelta(hours=1)), clock.now()
    )
    fetch = Fetcher()
    assert await TokenCache(sessions, clock, APPID, fetch).get() == "shared"
    assert fetch.count == 0


async def test_a_waiting_process_takes_the_holders_token_instead_of_fetching(sessions, clock):
    ttl = timedelta(seconds=30)
    assert await acquire_lease(sessions, "access_token:" + APPID, "other", clock.now(), ttl)
    fetch = Fetcher()
    waiting = asyncio.create_task(TokenCache(sessions, clock, APPID, fetch, poll_s=0.01).get())
    await asyncio.sleep(0.05)  # let it find the lease taken and start waiting
    assert not waiting.done()
    await store_token(
        sessions, APPID, CachedToken("from-other", clock.now() + timedelta(hours=2)), clock.now()
    )
    await release_lease(sessions, LEASE, "other")
    assert await asyncio.wait_for(waiting, 5) == "from-other"
    assert fetch.count == 0


async def test_rejected_token_is_replaced_once_for_concurrent_callers(sessions, clock):
    fetch = Fetcher()
    cache = TokenCache(sessions, clock, APPID, fetch)
    first = await cache.get()
    refreshed = await asyncio.gather(*(cache.refresh(stale=first) for _ in range(5)))
    assert set(refreshed) == {"token-2"}
    assert (await load_token(sessions, APPID)).token == "token-2"
