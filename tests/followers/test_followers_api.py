"""``/api/followers/sync``: start a sync, watch it, one at a time; then the imported followers
are there for segments like any other buyer."""

from __future__ import annotations

from follower_world import AUTH, seed, sync_config
from sqlalchemy import select

from bot.appkeys import SESSIONMAKER
from console.models import AuditEntry
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app

FOLLOWING = {"field": "subscribed", "op": "eq", "value": True}
NEVER_WROTE = {"field": "days_since_interaction", "op": "gte", "value": 30}


async def start(aiohttp_client, make_config, fake_wechat, clock, sqlite_url):
    config = sync_config(make_config, fake_wechat, sqlite_url)
    return await aiohttp_client(create_app(config, clock=clock))


async def test_a_large_sync_through_the_api_shows_the_followers_in_segments(
    aiohttp_client, make_config, fake_wechat, clock, sqlite_url
):
    """20,000 followers (bench/followers.py syncs 100,000): two pages, 200 batchget calls."""
    api = await start(aiohttp_client, make_config, fake_wechat, clock, sqlite_url)
    seed(fake_wechat, 20_000, clock.now())
    resp = await api.post("/api/followers/sync", headers=AUTH)
    assert resp.status == 202, await resp.text()
    started = await resp.json()
    assert (started["status"], started["trigger"], started["resumed"]) == ("running", "api", False)
    await api.app[FOLLOWER_SYNCS].wait()

    resp = await api.get(f"/api/followers/sync/{started['id']}", headers=AUTH)
    job = await resp.json()
    assert (job["status"], job["phase"], job["percent"]) == ("done", "done", 100)
    assert (job["total"], job["listed"], job["detailed"], job["created"]) == (20_000,) * 4
    assert (job["updated"], job["left"], job["errors"]) == (0, 0, 0)
    assert job["api_calls"] == {"user/get": 3, "user/info/batchget": 200}

    resp = await api.post(
        "/api/segments/preview", json={"spec": FOLLOWING, "sample": 3}, headers=AUTH
    )
    preview = await resp.json()
    # Every follower counts and can be reached by a campaign; none is in the 48-hour window.
    assert (preview["count"], preview["reachable"], preview["in_window"]) == (20_000, 20_000, 0)
    # A follower who never wrote counts as quiet since they followed (a day ago at least).
    resp = await api.post(
        "/api/segments/preview", json={"spec": NEVER_WROTE, "sample": 0}, headers=AUTH
    )
    quiet = (await resp.json())["count"]
    assert 19_000 < quiet < 20_000
    assert (await (await api.get("/api/followers/sync/latest", headers=AUTH)).json()) == job


async def test_one_sync_at_a_time(aiohttp_client, make_config, fake_wechat, clock, sqlite_url):
    api = await start(aiohttp_client, make_config, fake_wechat, clock, sqlite_url)
    seed(fake_wechat, 300, clock.now())
    fake_wechat.inject(latency_ms=50)
    first = await (await api.post("/api/followers/sync", headers=AUTH)).json()
    resp = await api.post("/api/followers/sync", headers=AUTH)
    assert resp.status == 409
    refused = await resp.json()
    assert refused["error"] == "a follower sync is already running"
    assert refused["job"]["id"] == first["id"]
    fake_wechat.inject(latency_ms=0)
    await api.app[FOLLOWER_SYNCS].wait()
    again = await api.post("/api/followers/sync", headers=AUTH)
    assert again.status == 202 and (await again.json())["id"] == first["id"] + 1
    await api.app[FOLLOWER_SYNCS].wait()
    # Each start is audited like every API write.
    async with api.app[SESSIONMAKER]() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions.count("api.POST /followers/sync") == 2


async def test_bad_and_unknown_requests(
    aiohttp_client, make_config, fake_wechat, clock, sqlite_url
):
    api = await start(aiohttp_client, make_config, fake_wechat, clock, sqlite_url)
    assert (await api.post("/api/followers/sync")).status == 401
    resp = await api.get("/api/followers/sync/latest", headers=AUTH)
    assert resp.status == 404 and "no follower sync" in (await resp.json())["error"]
    for path in ("/api/followers/sync/7", "/api/followers/sync/99999999999999999999",
                 "/api/followers/sync/abc", "/api/followers/sync/٣"):  # fmt: skip
        resp = await api.get(path, headers=AUTH)
        assert resp.status == 404, path
        assert "error" in await resp.json()
