"""Accounts: argon2id hashes, no plaintext, old parameters upgraded, the last admin kept."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from console.accounts import (
    AccountError,
    authenticate,
    create_user,
    hash_password,
    password_matches,
    set_disabled,
    set_role,
)


def test_passwords_are_stored_as_argon2id_hashes():
    stored = hash_password("s3cret-pass")
    assert stored.startswith("$argon2id$")
    assert "s3cret-pass" not in stored
    assert password_matches(stored, "s3cret-pass")
    assert not password_matches(stored, "s3cret-pasS")
    assert not password_matches("not a hash", "s3cret-pass")


def test_short_passwords_are_refused():
    with pytest.raises(AccountError, match="至少 8 位"):
        hash_password("short")


async def test_sign_in_checks_password_and_disabled_and_stamps_last_login(sessions, clock):
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", "operator", "password-1", clock.now())
    async with sessions() as session, session.begin():
        assert await authenticate(session, "amy", "wrong-pass", clock.now()) is None
        assert await authenticate(session, "nobody", "password-1", clock.now()) is None
        signed = await authenticate(session, "amy", "password-1", clock.now())
        assert signed.last_login_at == clock.now()
        await set_disabled(session, signed, True)
    async with sessions() as session, session.begin():
        assert await authenticate(session, "amy", "password-1", clock.now()) is None
    assert user.id


async def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(sessions, clock):
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash("password-1")
    async with sessions() as session, session.begin():
        user = await create_user(session, "amy", "viewer", "password-1", clock.now())
        user.password_hash = weak
    async with sessions() as session, session.begin():
        user = await authenticate(session, "amy", "password-1", clock.now())
        assert user.password_hash != weak
    assert password_matches(user.password_hash, "password-1")


async def test_names_are_unique_and_the_last_admin_stays(sessions, clock):
    async with sessions() as session, session.begin():
        admin = await create_user(session, "boss", "admin", "password-1", clock.now())
        with pytest.raises(AccountError, match="已存在"):
            await create_user(session, "boss", "viewer", "password-2", clock.now())
        with pytest.raises(AccountError, match="管理员"):
            await set_role(session, admin, "operator")
        with pytest.raises(AccountError, match="管理员"):
            await set_disabled(session, admin, True)
        await create_user(session, "boss2", "admin", "password-2", clock.now())
        await set_role(session, admin, "operator")
        assert admin.role == "operator"
