"""Staff accounts: create, authenticate, change password or role, disable.

Passwords are hashed with argon2id (argon2-cffi's defaults, which follow RFC 9106's
recommendations); a hash made with older parameters is upgraded at the next sign-in. A
sign-in for an unknown name still spends one hash verification, so response time does not
tell which names exist. Throttling is ``throttle.py``'s; sessions are ``sessions.py``'s.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from console.models import User
from console.roles import Role
from console.sessions import end_sessions_of

HASHER = PasswordHasher()
# Verified against when the name is unknown, so that case costs the same time.
_DUMMY_HASH = HASHER.hash("laoke-no-such-user")
MIN_PASSWORD = 8
MAX_NAME = 64


class AccountError(Exception):
    """A request about accounts that cannot be done; the message is shown to staff."""


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, refusing passwords too short to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 位")
    return HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (never raises on a corrupt hash)."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password staff can type: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        raise AccountError(f"用户名须为 1–{MAX_NAME} 个字符，不含空格")
    return name


async def create_user(
    session: AsyncSession, name: str, role: Role | str, password: str, now: datetime
) -> User:
    """A new enabled account; refuses a name already taken."""
    name = _check_name(name)
    role = Role.parse(role)
    if await get_user_by_name(session, name) is not None:
        raise AccountError(f"用户名 {name} 已存在")
    user = User(
        name=name, role=role.name, password_hash=hash_password(password), created_at=now,
        disabled=False,
    )  # fmt: skip
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


async def authenticate(
    session: AsyncSession, name: str, password: str, now: datetime
) -> User | None:
    """The enabled account with this name and password (last sign-in stamped), else None."""
    user = await get_user_by_name(session, name.strip())
    if user is None:
        password_matches(_DUMMY_HASH, password)
        return None
    if not password_matches(user.password_hash, password) or user.disabled:
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    user.last_login_at = now
    return user


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """Replace the password and end the account's sessions (they were signed in with the old)."""
    user.password_hash = hash_password(password)
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
