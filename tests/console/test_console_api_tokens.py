"""Per-user API tokens on /api: read-only refused on writes, read-write audited as their user,
revoked/expired/disabled refused, and the configured [api] token still a service token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.appkeys import SESSIONMAKER
from console.accounts import create_user, set_disabled
from console.models import ApiToken, AuditEntry, User
from console.tokens import create_token
from laoke.app import create_app

SEGMENT = {
    "name": "近30天互动",
    "spec": {"all": [{"field": "days_since_interaction", "op": "lt", "value": 30}]},
}


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    app = create_app(make_config(api={"token": "service-token-1"}), clock=clock)
    client = await aiohttp_client(app)
    maker = app[SESSIONMAKER]

    async def token(scope: str, days: int | None = 30, name: str = "amy") -> str:
        async with maker() as session, session.begin():
            user = await session.scalar(select(User).where(
                User.name == name))  # fmt: skip
            if user is None:
                user = await create_user(session, name, "operator", "river-lamp-71", clock.now())
            _row, secret = await create_token(session, user, "t", scope, days, clock.now())
        return secret

    client.token = token
    client.maker = maker
    return client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_read_only_token_reads_but_may_not_write(api):
    secret = await api.token("read")
    assert (await api.get("/api/segments", headers=bearer(secret))).status == 200
    resp = await api.post("/api/segments", json=SEGMENT, headers=bearer(secret))
    assert resp.status == 403
    assert "read-only" in (await resp.json())["error"]


async def test_read_write_token_writes_and_the_write_is_audited_as_its_user(api, clock):
    secret = await api.token("write")
    resp = await api.post("/api/segments", json=SEGMENT, headers=bearer(secret))
    assert resp.status == 201, await resp.text()
    async with api.maker() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action.like("api.%")))
        token = await session.scalar(select(ApiToken))
    assert entry.actor_name == "amy" and entry.action == "api.POST /segments"
    assert entry.after["name"] == "近30天互动"
    assert token.last_used_at == clock.now()


async def test_service_token_still_works_and_is_audited_as_the_service(api):
    resp = await api.post("/api/segments", json=SEGMENT, headers=bearer("service-token-1"))
    assert resp.status == 201
    async with api.maker() as session:
        entry = await session.scalar(select(AuditEntry))
    assert entry.actor_id is None and entry.actor_name == "API 服务令牌"


async def test_revoked_expired_and_disabled_owners_tokens_are_refused(api, clock):
    revoked = await api.token("read")
    expiring = await api.token("read", days=1)
    async with api.maker() as session, session.begin():
        row = await session.scalar(select(ApiToken).order_by(ApiToken.id))
        row.revoked_at = clock.now()
    assert (await api.get("/api/segments", headers=bearer(revoked))).status == 401
    assert (await api.get("/api/segments", headers=bearer(expiring))).status == 200
    clock.advance(days=1)
    assert (await api.get("/api/segments", headers=bearer(expiring))).status == 401
    live = await api.token("read", days=None, name="bob")
    assert (await api.get("/api/segments", headers=bearer(live))).status == 200
    async with api.maker() as session, session.begin():
        bob = await session.scalar(select(User).where(
            User.name == "bob"))  # fmt: skip
        await set_disabled(session, bob, True)
    assert (await api.get("/api/segments", headers=bearer(live))).status == 401
    assert (await api.get("/api/segments", headers=bearer("lk_made-up"))).status == 401


async def test_tokens_are_stored_hashed(api):
    secret = await api.token("write")
    async with api.maker() as session:
        row = await session.scalar(select(ApiToken))
    assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
