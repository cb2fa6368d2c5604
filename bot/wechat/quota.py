"""Daily API call quotas: how many calls of an API were made today, and refusing past the limit.

WeChat limits each API per account per day (``user/get`` 500 calls, ``user/info/batchget``
far more; the limits reset at midnight Beijing time) and answers 45009 once the day's calls
are spent, after which the API is dead until midnight for every process of the account. A
long job (the follower sync, a tag mirror) therefore counts its calls in ``wechat_api_calls``
(one row per day and API, shared by every process) and stops *before* the limit, leaving
room for nothing else to be starved and resuming the next day.

:class:`DailyCalls` keeps the counts of one job in memory: ``take`` refuses a call past the
limit (:class:`QuotaExhausted`), and ``flush`` (or ``take_unflushed`` with :func:`add_calls`,
on a synchronous connection) adds the calls made since the last flush to the table inside the
caller's transaction, so counting costs no transaction of its own (a crash between a call
and the next flush undercounts those few calls). This module does not call
WeChat and knows no API's default limit: the configuration (``[followers]``) does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

# The platform's day: quotas reset at midnight in Beijing, wherever the supplier is.
WECHAT_DAY = ZoneInfo("Asia/Shanghai")


class ApiCallCount(Base):
    """Calls of one API on one platform day (Beijing date)."""

    __tablename__ = "wechat_api_calls"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    api: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class QuotaExhausted(Exception):
    """The day's calls of `api` are spent (``limit``); the platform resets them at midnight."""

    def __init__(self, api: str, limit: int) -> None:
        super().__init__(f"the daily quota of {api} ({limit:,} calls) is used up")
        self.api = api
        self.limit = limit


def wechat_day(now: datetime) -> str:
    """The platform day `now` falls on (``YYYY-MM-DD`` in Beijing)."""
    return now.astimezone(WECHAT_DAY).date().isoformat()


async def calls_on(session: AsyncSession, day: str) -> dict[str, int]:
    """Calls made per API on `day`."""
    rows = await session.execute(
        select(ApiCallCount.api, ApiCallCount.calls).where(ApiCallCount.day == day)
    )
    return {api: calls for api, calls in rows}


class DailyCalls:
    """One job's view of today's counts: refuse past the limits, add its own calls."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self.day = ""
        self.used: Counter[str] = Counter()  # today's calls, ours included
        self.unflushed: Counter[str] = Counter()

    async def load(self, session: AsyncSession, now: datetime) -> None:
        """Read today's counts (at the start, and again when the platform day changes)."""
        self.day = wechat_day(now)
        self.used = Counter(await calls_on(session, self.day))
        self.unflushed.clear()

    def take(self, api: str, now: datetime) -> None:
        """Count one call of `api`, or raise QuotaExhausted when the day's limit is reached.

        A new platform day since :meth:`load` starts from zero (call ``load`` to see other
        processes' calls of the new day)."""
        day = wechat_day(now)
        if day != self.day:
            self.day, self.used = day, Counter()
            self.unflushed.clear()
        limit = self.limits.get(api)
        if limit is not None and self.used[api] >= limit:
            raise QuotaExhausted(api, limit)
        self.used[api] += 1
        self.unflushed[api] += 1

    def remaining(self, api: str) -> int | None:
        limit = self.limits.get(api)
        return None if limit is None else max(limit - self.used[api], 0)

    def take_unflushed(self) -> tuple[str, dict[str, int]]:
        """The calls made since the last flush (to add in the caller's transaction with
        :func:`add_calls`); :meth:`restore` them if that transaction fails."""
        counts = {api: n for api, n in self.unflushed.items() if n}
        self.unflushed.clear()
        return self.day, counts

    def restore(self, counts: dict[str, int]) -> None:
        self.unflushed.update(counts)

    async def flush(self, session: AsyncSession) -> None:
        """Add the calls made since the last flush to the shared counts (caller's transaction)."""
        day, counts = self.take_unflushed()
        try:
            for api, calls in counts.items():
                await session.execute(_add(session.bind.dialect.name, day, api, calls))
        except BaseException:
            self.restore(counts)
            raise


async def take_call(session: AsyncSession, api: str, limit: int, now: datetime) -> bool:
    """Count one call of `api` today in the caller's transaction, unless `limit` calls were
    made already (False: do not call). For calls made one at a time (a mass send)."""
    day = wechat_day(now)
    if (await calls_on(session, day)).get(api, 0) >= limit:
        return False
    await session.execute(_add(session.bind.dialect.name, day, api, 1))
    return True


def add_calls(conn: Connection, day: str, counts: dict[str, int]) -> None:
    """Add `counts` (API → calls) to `day`'s shared counts, on a synchronous connection."""
    for api, calls in counts.items():
        conn.execute(_add(conn.dialect.name, day, api, calls))


def _add(dialect: str, day: str, api: str, calls: int) -> Any:
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    stmt = insert(ApiCallCount).values(day=day, api=api, calls=calls)
    return stmt.on_conflict_do_update(
        index_elements=["day", "api"], set_={"calls": ApiCallCount.calls + stmt.excluded.calls}
    )
