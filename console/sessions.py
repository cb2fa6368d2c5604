"""Console sessions, stored in the database so any ``serve`` process can check any cookie.

The cookie holds a random 256-bit token; the table holds only its SHA-256, so a copy of the
database does not sign anyone in. A session ends ``session_idle_minutes`` after its last
request and in any case ``session_absolute_hours`` after sign-in; "now" always comes from the
caller (the app's Clock), so tests move time by hand. Each session carries its own CSRF
token. Cookies and the request are ``auth.py``'s business, not this module's.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConsoleConfig
from console.models import ConsoleSession, User

# last_seen_at is written at most this often, so a page with many requests costs one write.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    """A live session and its account, as a request sees them."""

    session_id: int
    user: User
    csrf_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession, user: User, now: datetime, address: str | None
) -> str:
    """A new session for `user`; returns the cookie value (shown to nobody else)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            address=(address or "")[:64] or None,
        )
    )
    await session.flush()
    return token


def _expired(row: ConsoleSession, now: datetime, config: ConsoleConfig) -> bool:
    idle = timedelta(minutes=config.session_idle_minutes)
    absolute = timedelta(hours=config.session_absolute_hours)
    return now - row.last_seen_at >= idle or now - row.created_at >= absolute


async def resume_session(
    session: AsyncSession, token: str, now: datetime, config: ConsoleConfig
) -> SignedIn | None:
    """The session behind a cookie, if it is live and its account enabled; an expired one is
    deleted. Touches ``last_seen_at`` (at most once a minute)."""
    if not token:
        return None
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    )
    if row is None:
        return None
    if _expired(row, now, config):
        await session.delete(row)
        return None
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SignedIn(row.id, user, row.csrf_token)


async def end_session(session: AsyncSession, token: str) -> None:
    """Sign out: the cookie's session is gone for every process."""
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    )


async def end_sessions_of(session: AsyncSession, user_id: int) -> None:
    """End every session of an account (password changed, account disabled)."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


async def purge_expired(session: AsyncSession, now: datetime, config: ConsoleConfig) -> int:
    """Delete sessions past either limit; returns how many."""
    idle = now - timedelta(minutes=config.session_idle_minutes)
    absolute = now - timedelta(hours=config.session_absolute_hours)
    result = await session.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.last_seen_at <= idle) | (ConsoleSession.created_at <= absolute)
        )
    )
    return result.rowcount or 0
