"""Console sessions: idle and absolute expiry on an injected clock, stored hashed, valid in
every process on the same database, ended by sign-out, password change and disabling."""

from __future__ import annotations

from sqlalchemy import select

from bot.appkeys import SESSIONMAKER
from bot.config import ConsoleConfig
from console.accounts import create_user, set_disabled, set_password
from console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from console.models import ConsoleSession, User
from console.sessions import resume_session, start_session
from laoke.app import create_app
from tests.console.conftest import csrf_from

CONFIG = ConsoleConfig(session_idle_minutes=30, session_absolute_hours=8)


async def _signed_in(sessions, clock, role="viewer"):
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", role, "river-lamp-71", clock.now())
        token = await start_session(session, user, clock.now(), "10.0.0.1")
    return user, token


async def _resume(sessions, token, clock):
    async with sessions() as session, session.begin():
        return await resume_session(session, token, clock.now(), CONFIG)


async def test_session_ends_after_the_idle_limit_without_requests(sessions, clock):
    _user, token = await _signed_in(sessions, clock)
    clock.advance(minutes=29)
    assert await _resume(sessions, token, clock) is not None
    clock.advance(minutes=29)  # 29 min after the last request: still alive
    assert await _resume(sessions, token, clock) is not None
    clock.advance(minutes=30)
    assert await _resume(sessions, token, clock) is None
    async with sessions() as session:  # the expired row is gone
        assert await session.scalar(select(ConsoleSession.id)) is None


async def test_session_ends_at_the_absolute_limit_even_when_in_use(sessions, clock):
    _user, token = await _signed_in(sessions, clock)
    for _ in range(15):  # a request every 25 minutes for 6¼ hours
        clock.advance(minutes=25)
        assert await _resume(sessions, token, clock) is not None
    clock.advance(hours=1, minutes=45)  # 8 hours after sign-in
    assert await _resume(sessions, token, clock) is None


async def test_only_a_hash_of_the_cookie_is_stored(sessions, clock):
    _user, token = await _signed_in(sessions, clock)
    async with sessions() as session:
        row = await session.scalar(select(ConsoleSession))
    assert token not in (row.token_hash, row.csrf_token)
    assert await _resume(sessions, token + "x", clock) is None


async def test_password_change_and_disabling_end_the_sessions(sessions, clock):
    user, token = await _signed_in(sessions, clock, role="admin")
    async with sessions() as session, session.begin():
        await create_user(session, "bob", "admin", "cedar-moon-52", clock.now())
        await set_password(session, await session.get(type(user), user.id), "quiet-ferry-93")
    assert await _resume(sessions, token, clock) is None
    async with sessions() as session, session.begin():
        token = await start_session(
            session, await session.get(type(user), user.id), clock.now(), None
        )
    async with sessions() as session, session.begin():
        await set_disabled(session, await session.get(type(user), user.id), True)
    assert await _resume(sessions, token, clock) is None


async def test_a_session_started_in_one_process_is_valid_in_another(
    aiohttp_client, make_config, clock
):
    config = make_config()
    first = await aiohttp_client(create_app(config, clock=clock))
    second = await aiohttp_client(create_app(config, clock=clock))  # same database
    _user, token = await _signed_in(first.app[SESSIONMAKER], clock)
    resp = await second.get(
        "/admin/", headers={"Cookie": f"{SESSION_COOKIE}={token}"}, allow_redirects=False
    )
    assert resp.status == 200
    assert "amy" in await resp.text()


async def test_purge_removes_only_sessions_past_a_limit(sessions, clock):
    from console.sessions import purge_expired

    _user, old = await _signed_in(sessions, clock)
    clock.advance(minutes=31)
    async with sessions() as session, session.begin():
        user = await session.scalar(select(ConsoleSession.user_id))
        fresh = await start_session(session, await session.get(User, user), clock.now(), None)
    async with sessions() as session, session.begin():
        assert await purge_expired(session, clock.now(), CONFIG) == 1
    assert await _resume(sessions, fresh, clock) is not None
    assert await _resume(sessions, old, clock) is None


async def test_session_cookie_is_httponly_lax_and_secure_behind_https(
    aiohttp_client, make_config, clock
):
    for public_url, secure in (("http://shop.example/", False), ("https://shop.example/", True)):
        config = make_config(server={"public_url": public_url})
        client = await aiohttp_client(create_app(config, clock=clock))
        async with client.app[SESSIONMAKER]() as session, session.begin():
            await create_user(session, f"amy{int(secure)}", "viewer", "river-lamp-71", clock.now())
        form = await client.get("/admin/login")
        csrf = form.cookies[LOGIN_CSRF_COOKIE]
        assert bool(csrf["secure"]) is secure and csrf["samesite"] == "Strict"
        field = csrf_from(await form.text())
        # Sent by hand: the test client keeps no Secure cookie over plain http.
        resp = await client.post(
            "/admin/login",
            data={"name": f"amy{int(secure)}", "password": "river-lamp-71", "csrf_token": field},
            headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={csrf.value}"},
            allow_redirects=False,
        )
        assert resp.status == 303
        cookie = resp.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
        assert bool(cookie["secure"]) is secure
