"""Statement periods: months, quarters or years of local time, their keys and their order.

A period is named by its key (``2026-11``, ``2026-Q4``, ``2026``) and covers
``[starts_at, ends_at)`` in the configured timezone, held as aware UTC datetimes. Which
period may close when is decided here (``closable``): only an ended period, in order, the
first close being any ended period. This module reads and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

KINDS = ("month", "quarter", "year")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A period that cannot be named or closed; the message is shown to staff as is."""


@dataclass(frozen=True)
class Period:
    kind: str
    year: int
    index: int  # month 1-12, quarter 1-4, 1 for a year
    tz: str

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.index}"
        return str(self.year)

    @property
    def label(self) -> str:
        """How buyers and staff read it: 2026年11月, 2026年第4季度, 2026年."""
        if self.kind == "month":
            return f"{self.year}年{self.index}月"
        if self.kind == "quarter":
            return f"{self.year}年第{self.index}季度"
        return f"{self.year}年"

    @property
    def noun(self) -> str:
        """本月 / 本季度 / 本年 — the open period as a buyer says it."""
        return {"month": "本月", "quarter": "本季度", "year": "本年"}[self.kind]

    def _first_month(self) -> int:
        return {"month": self.index, "quarter": 3 * self.index - 2, "year": 1}[self.kind]

    @property
    def starts_at(self) -> datetime:
        local = datetime(self.year, self._first_month(), 1, tzinfo=ZoneInfo(self.tz))
        return local.astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        return self.next().starts_at

    def next(self) -> Period:
        size = {"month": 12, "quarter": 4, "year": 1}[self.kind]
        if self.index < size:
            return Period(self.kind, self.year, self.index + 1, self.tz)
        return Period(self.kind, self.year + 1, 1, self.tz)

    def previous(self) -> Period:
        size = {"month": 12, "quarter": 4, "year": 1}[self.kind]
        if self.index > 1:
            return Period(self.kind, self.year, self.index - 1, self.tz)
        return Period(self.kind, self.year - 1, size, self.tz)


def period_of(moment: datetime, kind: str, tz: str) -> Period:
    """The period of `kind` that contains `moment`."""
    local = moment.astimezone(ZoneInfo(tz))
    index = {"month": local.month, "quarter": (local.month - 1) // 3 + 1, "year": 1}[kind]
    return Period(kind, local.year, index, tz)


def parse_period(key: str, kind: str, tz: str) -> Period:
    """``2026-11`` / ``2026-Q4`` / ``2026`` → the period; it must be of the configured kind."""
    text = key.strip()
    for found_kind, pattern in (("month", _MONTH), ("quarter", _QUARTER), ("year", _YEAR)):
        match = pattern.match(text)
        if match is None:
            continue
        year = int(match.group(1))
        index = int(match.group(2)) if found_kind != "year" else 1
        if found_kind == "month" and not 1 <= index <= 12:
            break
        if found_kind != kind:
            raise PeriodError(f"结账周期是{_KIND_NAMES[kind]}，请写成 {_EXAMPLES[kind]}")
        return Period(kind, year, index, tz)
    raise PeriodError(f"看不懂的期间 {text[:20]!r}，请写成 {_EXAMPLES[kind]}")


_KIND_NAMES = {"month": "按月", "quarter": "按季度", "year": "按年"}
_EXAMPLES = {"month": "2026-11", "quarter": "2026-Q4", "year": "2026"}


def closable(
    period: Period, now: datetime, last_closed_key: str | None, last_closed_end: datetime | None
) -> None:
    """Raise PeriodError unless `period` may be closed now (ended; next after the last)."""
    if period.ends_at > now:
        raise PeriodError(f"{period.label}还没有结束，不能结账")
    if last_closed_end is None:
        return
    if period.starts_at < last_closed_end:
        raise PeriodError(
            f"{period.label}早于或等于已结账的 {last_closed_key}，已结账的期间不会再变"
        )
    if period.starts_at > last_closed_end:
        raise PeriodError(f"请按顺序结账：{last_closed_key} 之后还有期间没有结账")


def due(
    now: datetime, kind: str, tz: str, close_after_days: int, last_closed_end: datetime | None
) -> list[Period]:
    """The periods the daily run closes now, oldest first: every ended period after the last
    closed one whose end is at least `close_after_days` ago (without any closed period yet,
    only the most recent such period: history before the first close is not re-stated)."""
    cutoff = now - timedelta(days=close_after_days)
    latest = period_of(cutoff, kind, tz).previous()
    if latest.ends_at > cutoff:
        return []
    if last_closed_end is None:
        return [latest]
    periods = []
    current = period_of(last_closed_end, kind, tz)
    while current.ends_at <= cutoff and len(periods) < 120:
        if current.starts_at >= last_closed_end:
            periods.append(current)
        current = current.next()
    return periods
