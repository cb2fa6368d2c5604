"""Staff accounts: create, authenticate, change password or role, disable.

Passwords are hashed with argon2id (argon2-cffi's defaults, which follow RFC 9106's
recommendations); a new password must pass ``password_policy.weakness`` (not common, not
guessable, not containing the name). The functions here hash where they are called: the
console calls the hashing ones through its worker pool (``password_pool.py``) and signs in
through ``sign_in.py``; the CLI calls them directly. Throttling is ``throttle.py``'s;
sessions are ``sessions.py``'s.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from console.models import User
from console.password_policy import weakness
from console.roles import Role
from console.sessions import end_sessions_of

HASHER = PasswordHasher()
# Verified against when the name is unknown, so that case costs the same time.
DUMMY_HASH = HASHER.hash("laoke-no-such-user")
MAX_NAME = 64


class AccountError(Exception):
    """A request about accounts that cannot be done; the message is shown to staff."""


def hash_password(name: str, password: str) -> str:
    """An argon2id hash of a new `password` for account `name`, refusing a weak one."""
    problem = weakness(name, password)
    if problem is not None:
        raise AccountError(problem)
    return HASHER.hash(password)


def rehashed(password_hash: str, password: str) -> str | None:
    """A fresh hash of a verified `password` when its hash used older parameters, else None."""
    return HASHER.hash(password) if HASHER.check_needs_rehash(password_hash) else None


def password_matches(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (never raises on a corrupt hash)."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password(name: str = "") -> str:
    """A random password staff can type: 16 URL-safe characters (96 bits), never one the
    policy would refuse for account `name` (which could only happen by containing the name)."""
    while True:
        password = secrets.token_urlsafe(12)
        if weakness(name, password) is None:
            return password


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        raise AccountError(f"用户名须为 1–{MAX_NAME} 个字符，不含空格")
    return name


async def create_user(
    session: AsyncSession,
    name: str,
    role: Role | str,
    password: str | None,
    now: datetime,
    *,
    password_hash: str | None = None,
) -> User:
    """A new enabled account; refuses a name already taken. Pass `password`, or a
    `password_hash` already made by ``hash_password`` (the console makes it off the loop)."""
    name = _check_name(name)
    role = Role.parse(role)
    if await get_user_by_name(session, name) is not None:
        raise AccountError(f"用户名 {name} 已存在")
    if password_hash is None:
        password_hash = hash_password(name, password or "")
    user = User(
        name=name, role=role.name, password_hash=password_hash, created_at=now, disabled=False
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_name(session: AsyncSession, name: str) -> User | None:
    return await session.scalar(select(User).where(User.name == name))


async def list_users(session: AsyncSession) -> list[User]:
    """Every account, by name."""
    return list(await session.scalars(select(User).order_by(User.name)))


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """Replace the password and end the account's sessions (they were signed in with the old)."""
    user.password_hash = hash_password(user.name, password)
    await end_sessions_of(session, user.id)


async def set_role(session: AsyncSession, user: User, role: Role | str) -> None:
    """Change the role; refuses to leave no enabled admin."""
    role = Role.parse(role)
    if user.role == Role.admin.name and role != Role.admin:
        await _keep_one_admin(session, user)
    user.role = role.name


async def set_disabled(session: AsyncSession, user: User, disabled: bool) -> None:
    """Disable (ending its sessions) or re-enable an account; the last admin stays enabled."""
    if disabled and user.role == Role.admin.name and not user.disabled:
        await _keep_one_admin(session, user)
    user.disabled = disabled
    if disabled:
        await end_sessions_of(session, user.id)


async def _keep_one_admin(session: AsyncSession, leaving: User) -> None:
    others = await session.scalars(
        select(User.id).where(
            User.role == Role.admin.name, User.disabled.is_(False), User.id != leaving.id
        )
    )
    if others.first() is None:
        raise AccountError("至少要保留一个启用的管理员")


def user_snapshot(user: User) -> dict:
    """What the audit log records of an account (never the hash)."""
    return {"name": user.name, "role": user.role, "disabled": user.disabled}
