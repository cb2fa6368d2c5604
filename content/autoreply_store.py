"""Where auto-reply rules live: every save is a new version of the whole rule set (history,
rollback as a new version), hits per rule, the unmatched messages, and the per-process cache
the bot reads the current version through.

The cache (``RuleCache``) asks the database for the newest version id at most once every
``POLL_S`` seconds and reloads only when it changed, so an admin's save reaches every
``serve`` process within about a second without a restart. Each function taking a session is
one unit of work inside the caller's transaction. Matching itself is in
``content/autoreplies.py``; nothing here knows the built-in commands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, InboundMessage
from content.autoreplies import Matcher, RuleSet, parse_ruleset

POLL_S = 1.0
HANDLER_NAME = "autoreply.keyword_reply"  # the dispatcher's name of the keyword handler


class AutoReplyVersion(Base):
    """One saved version of the whole rule set; the highest id is the one in force."""

    __tablename__ = "autoreply_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(120), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]


class AutoReplyHit(Base):
    """A message answered by a keyword rule (for 7日命中)."""

    __tablename__ = "autoreply_hits"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_autoreply_hits_rule_at", "rule_id", "at"),)


@dataclass(frozen=True)
class Version:
    id: int
    ruleset: RuleSet
    note: str
    created_by: str
    created_at: datetime


def _version(row: AutoReplyVersion) -> Version:
    # stored=True: a pattern saved before RE2 (or refused by a newer check) stops its rule
    # instead of making the whole set, and with it the bot's replies, fail to load.
    ruleset = parse_ruleset(row.data, stored=True)
    return Version(row.id, ruleset, row.note, row.created_by, row.created_at)


async def current_version(session: AsyncSession) -> Version | None:
    row = await session.scalar(
        select(AutoReplyVersion).order_by(AutoReplyVersion.id.desc()).limit(1)
    )
    return _version(row) if row is not None else None


async def current_ruleset(session: AsyncSession) -> RuleSet:
    found = await current_version(session)
    return found.ruleset if found is not None else RuleSet()


async def save_ruleset(
    session: AsyncSession, ruleset: RuleSet, *, by: str, note: str, at: datetime
) -> Version:
    """Store `ruleset` as the new current version."""
    row = AutoReplyVersion(
        data=ruleset.model_dump(mode="json"), note=note[:120], created_by=by[:64], created_at=at
    )
    session.add(row)
    await session.flush()
    return _version(row)


async def history(session: AsyncSession, limit: int = 30) -> list[Version]:
    rows = await session.scalars(
        select(AutoReplyVersion).order_by(AutoReplyVersion.id.desc()).limit(limit)
    )
    return [_version(r) for r in rows]


async def get_version(session: AsyncSession, version_id: int) -> Version | None:
    row = await session.get(AutoReplyVersion, version_id)
    return _version(row) if row is not None else None


async def record_hit(session: AsyncSession, rule_id: str, at: datetime) -> None:
    session.add(AutoReplyHit(rule_id=rule_id, at=at))


async def hits_since(session: AsyncSession, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(AutoReplyHit.rule_id, func.count())
        .where(AutoReplyHit.at >= since)
        .group_by(AutoReplyHit.rule_id)
    )
    return {rule_id: n for rule_id, n in rows}


async def unmatched_messages(
    session: AsyncSession, now: datetime, days: int = 7, limit: int = 10
) -> list[tuple[str, int]]:
    """The texts most often left to the fallback in the last `days` (what no rule answers)."""
    since = now - timedelta(days=days)
    text = func.trim(InboundMessage.content)
    rows = await session.execute(
        select(text, func.count())
        .where(
            InboundMessage.received_at >= since,
            InboundMessage.msg_type == "text",
            InboundMessage.handler == "fallback",
            InboundMessage.content.is_not(None),
            func.length(InboundMessage.content) <= 30,
        )
        .group_by(text)
        .order_by(func.count().desc(), text)
        .limit(limit)
    )
    return [(t, n) for t, n in rows if t]


class RuleCache:
    """The rule set in force, per process, refreshed when a new version appears."""

    def __init__(self, timezone: str = "Asia/Shanghai", poll_s: float = POLL_S) -> None:
        self.timezone, self.poll_s = timezone, poll_s
        self.version_id: int | None = None
        self.matcher = Matcher(RuleSet(), timezone)
        self._checked = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, session: AsyncSession | Callable[[], AsyncSession]) -> Matcher:
        """The current matcher; asks the database at most once every ``poll_s`` seconds
        (`session` may be a callable opening one only then)."""
        if time.monotonic() - self._checked < self.poll_s:
            return self.matcher
        async with self._lock:
            if time.monotonic() - self._checked >= self.poll_s:
                if callable(session):
                    session = session()
                newest = await session.scalar(select(func.max(AutoReplyVersion.id)))
                if newest != self.version_id:
                    found = await get_version(session, newest) if newest else None
                    ruleset = found.ruleset if found is not None else RuleSet()
                    self.matcher, self.version_id = Matcher(ruleset, self.timezone), newest
                self._checked = time.monotonic()
        return self.matcher
