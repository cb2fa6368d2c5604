"""Checking a staff password: signing in, and "confirm your password" before a sensitive change.

Both run the same steps, in an order that keeps the event loop free and guessing bounded:

1. a place in the hashing pool (``password_pool.admit``), or "登录请求过多" at once, no hash;
2. the attempt counted in the database before anything is verified (``throttle``), or the
   wait;
3. the argon2 verification in a worker thread, with no database transaction open (SQLite
   must not hold a snapshot across the 0.1 s while the webhook writes);
4. on success, one transaction that re-reads the account (disabled or given a new password
   meanwhile: refused), clears the counted failures and, for a sign-in, starts the session
   and audits it.

A wrong name costs the same verification as a wrong password (against a dummy hash), and both
get the same message. This module does not render pages or set cookies (``pages/login.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import ConsoleConfig
from console import audit, throttle
from console.accounts import DUMMY_HASH, get_user_by_name, password_matches, rehashed
from console.models import User
from console.password_policy import MAX_LENGTH
from console.password_pool import BUSY_MESSAGE, PasswordPool, PoolBusy
from console.sessions import purge_expired, start_session

WRONG_SIGN_IN = "用户名或密码错误，或账号已停用。"


@dataclass(frozen=True)
class SignIn:
    """What a sign-in came to: a session token, or the Chinese error and the HTTP status."""

    user: User | None = None
    token: str | None = None
    error: str | None = None
    status: int = 200


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    pool: PasswordPool,
    name: str,
    password: str,
    address: str,
    now: datetime,
    config: ConsoleConfig,
) -> SignIn:
    """Sign `name` in with `password` from `address` (the steps in the module docstring)."""
    try:
        with pool.admit():
            return await _sign_in(sessions, pool, name, password, address, now, config)
    except PoolBusy:
        return SignIn(error=BUSY_MESSAGE, status=429)


async def _sign_in(
    sessions: async_sessionmaker[AsyncSession], pool: PasswordPool, name: str, password: str,
    address: str, now: datetime, config: ConsoleConfig,
) -> SignIn:  # fmt: skip
    if not name or not password or len(password) > MAX_LENGTH:
        return SignIn(error=WRONG_SIGN_IN, status=401)
    claim = await throttle.claim_attempt(sessions, throttle.LOGIN, name, address, now, config)
    if claim.wait is not None:
        return SignIn(error=throttle.wait_message(claim.wait), status=429)
    async with sessions() as session:
        found = await get_user_by_name(session, name)
        user_id, stored = (found.id, found.password_hash) if found else (None, DUMMY_HASH)
    if not await pool.run(password_matches, stored, password) or user_id is None:
        return SignIn(error=WRONG_SIGN_IN, status=401)  # the claimed attempt stays a failure
    fresh_hash = await pool.run(rehashed, stored, password)
    async with sessions() as session, session.begin():
        user = await session.get(User, user_id)
        if user is None or user.disabled or user.password_hash != stored:
            return SignIn(error=WRONG_SIGN_IN, status=401)
        if fresh_hash is not None:
            user.password_hash = fresh_hash
        user.last_login_at = now
        await throttle.settle_attempt(session, claim)
        # Housekeeping rides on sign-ins: rare enough to be free, frequent enough to keep
        # both tables small.
        await throttle.purge_old(session, now, config)
        await purge_expired(session, now, config)
        token = await start_session(session, user, now, address)
        audit.record(
            session, audit.Actor(user.id, user.name, address), "login", ("user", user.id),
            None, None, at=now,
        )  # fmt: skip
    return SignIn(user=user, token=token)


async def confirm_password(
    sessions: async_sessionmaker[AsyncSession],
    pool: PasswordPool,
    user: User,
    password: str,
    address: str,
    now: datetime,
    config: ConsoleConfig,
    *,
    wrong: str,
) -> str | None:
    """None when `password` is the signed-in `user`'s own; else why not, in Chinese (`wrong`
    for a wrong password, or the wait, or the pool being busy). Throttled per account."""
    try:
        with pool.admit():
            if not password or len(password) > MAX_LENGTH:
                return wrong
            claim = await throttle.claim_attempt(
                sessions, throttle.CONFIRM, user.name, address, now, config
            )
            if claim.wait is not None:
                return throttle.wait_message(claim.wait, throttle.CONFIRM)
            if not await pool.run(password_matches, user.password_hash, password):
                return wrong
            async with sessions() as session, session.begin():
                await throttle.settle_attempt(session, claim)
            return None
    except PoolBusy:
        return BUSY_MESSAGE
