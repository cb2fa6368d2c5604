"""Accounts: argon2id hashes, no plaintext, weak passwords refused, old parameters upgraded at
sign-in, the last admin kept."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.config import ConsoleConfig
from console.accounts import (
    AccountError,
    create_user,
    hash_password,
    password_matches,
    set_disabled,
    set_password,
    set_role,
)
from console.password_pool import PasswordPool
from console.sign_in import sign_in

CONFIG = ConsoleConfig()


async def authenticate(sessions, name, password, now):
    """The signed-in account, through the console's own sign-in (pool, throttle, session)."""
    pool = PasswordPool(workers=1, queue=0)
    try:
        return (await sign_in(sessions, pool, name, password, "10.0.0.1", now, CONFIG)).user
    finally:
        pool.close()


def test_passwords_are_stored_as_argon2id_hashes():
    stored = hash_password("amy", "river-lamp-71")
    assert stored.startswith("$argon2id$")
    assert "river-lamp-71" not in stored
    assert password_matches(stored, "river-lamp-71")
    assert not password_matches(stored, "river-lamp-7l")
    assert not password_matches("not a hash", "river-lamp-71")


def test_short_passwords_are_refused():
    with pytest.raises(AccountError, match="至少 8 位"):
        hash_password("amy", "short")


@pytest.mark.parametrize(
    ("name", "password", "reason"),
    [
        ("amy", "12345678", "密码太常见"),
        ("amy", "password1", "密码太常见"),
        ("wangfang", "wangfang1", "密码太容易猜到：不能包含用户名"),
        ("wangfang", "WangFang2024!", "密码太容易猜到：不能包含用户名"),
        ("amy", "qwertyuiop", "密码太常见"),
        ("amy", "2024-05-18", "密码太容易猜到：日期"),
    ],
)
async def test_common_and_guessable_passwords_are_refused_in_chinese(
    sessions, clock, name, password, reason
):
    with pytest.raises(AccountError, match=reason):
        hash_password(name, password)
    async with sessions() as session, session.begin():
        with pytest.raises(AccountError, match=reason):
            await create_user(session, name, "viewer", password, clock.now())
        user = await create_user(session, name, "viewer", "river-lamp-71", clock.now())
        with pytest.raises(AccountError, match=reason):
            await set_password(session, user, password)


async def test_sign_in_checks_password_and_disabled_and_stamps_last_login(sessions, clock):
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", "operator", "river-lamp-71", clock.now())
    assert await authenticate(sessions, "amy", "wrong-pass", clock.now()) is None
    assert await authenticate(sessions, "nobody", "river-lamp-71", clock.now()) is None
    signed = await authenticate(sessions, "amy", "river-lamp-71", clock.now())
    assert signed.last_login_at == clock.now()
    async with sessions() as session, session.begin():
        await set_disabled(session, await session.get(type(user), user.id), True)
    assert await authenticate(sessions, "amy", "river-lamp-71", clock.now()) is None


async def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(sessions, clock):
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash("river-lamp-71")
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", "viewer", "river-lamp-71", clock.now())
        user.password_hash = weak
    user = await authenticate(sessions, "amy", "river-lamp-71", clock.now())
    assert user.password_hash != weak
    assert password_matches(user.password_hash, "river-lamp-71")


async def test_names_are_unique_and_the_last_admin_stays(sessions, clock):
    async with sessions() as session, session.begin():
        admin = await create_user(session, "boss", "admin", "river-lamp-71", clock.now())
        with pytest.raises(AccountError, match="已存在"):
            await create_user(session, "boss", "viewer", "cedar-moon-52", clock.now())
        with pytest.raises(AccountError, match="管理员"):
            await set_role(session, admin, "operator")
        with pytest.raises(AccountError, match="管理员"):
            await set_disabled(session, admin, True)
        await create_user(session, "boss2", "admin", "cedar-moon-52", clock.now())
        await set_role(session, admin, "operator")
        assert admin.role == "operator"
