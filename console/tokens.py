"""Per-user API tokens: created in the console, shown once, stored hashed, revocable.

A token is ``lk_`` plus 256 random bits; the table keeps its SHA-256 and a short prefix to
recognise it by. A read-only token (scope ``read``) may only GET. A token acts as its
owner and never with more rights than the owner has *now*: checked on every request, a
viewer's token reads only, and a disabled owner, a revoked or an expired token is refused.
When an owner is demoted to viewer or disabled, ``fit_tokens_to_owner`` also writes that
down (read-write tokens become read-only; a disabled owner's tokens are revoked), audited,
so the token list says what the tokens can do. ``verify_token`` is what
the ``/api`` bearer check calls (through the hook ``console.setup`` installs); the ``[api]
token`` from the configuration is checked by ``bot/api.py`` itself, not here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from console import audit
from console.accounts import AccountError
from console.models import SCOPES, ApiToken, User
from console.roles import Role

PREFIX = "lk_"
# How long a new token lives; None: until revoked.
EXPIRY_CHOICES: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "never": None}
# last_used_at is written at most this often per token.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCaller:
    """Who a verified user token speaks for."""

    token_id: int
    user_id: int
    user_name: str
    read_only: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    session: AsyncSession, user: User, name: str, scope: str, days: int | None, now: datetime
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the secret (never stored, never shown again)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise AccountError("令牌名称须为 1–64 个字符")
    if scope not in SCOPES:
        raise AccountError("权限须为只读或读写")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        scope=scope,
        token_hash=_hash(secret),
        prefix=secret[:10],
        created_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def verify_token(session: AsyncSession, secret: str, now: datetime) -> TokenCaller | None:
    """The caller behind a bearer token, if it is a live token of an enabled account."""
    if not secret.startswith(PREFIX):
        return None
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    may_write = row.scope == "write" and Role.parse(user.role) >= Role.operator
    return TokenCaller(row.id, user.id, user.name, read_only=not may_write)


async def fit_tokens_to_owner(
    session: AsyncSession, user: User, actor: audit.Actor, now: datetime
) -> int:
    """After `user`'s role or state changed: revoke a disabled owner's live tokens, make a
    viewer's read-write tokens read-only; each change audited. Returns how many changed."""
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    changed = 0
    for token in rows:
        before = token_snapshot(token)
        if user.disabled:
            token.revoked_at = now
            action, reason = "token.revoke", "所属成员已停用，令牌随之撤销"
        elif token.scope == "write" and Role.parse(user.role) < Role.operator:
            token.scope = "read"
            action, reason = "token.narrow", "所属成员降为查看者，读写令牌改为只读"
        else:
            continue
        audit.record(
            session, actor, action, ("api_token", token.id), before,
            token_snapshot(token) | {"reason": reason}, at=now,
        )  # fmt: skip
        changed += 1
    return changed


async def tokens_of(session: AsyncSession, user: User | None) -> list[tuple[ApiToken, str]]:
    """Tokens with their owner's name, newest first: one user's, or everyone's (None)."""
    query = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    rows = await session.execute(query.order_by(ApiToken.id.desc()))
    return [(token, owner) for token, owner in rows]


async def get_token(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


def token_snapshot(token: ApiToken) -> dict:
    """What the audit log records of a token (never the secret or its hash)."""
    return {
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
        "user_id": token.user_id,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked": token.revoked_at is not None,
    }
