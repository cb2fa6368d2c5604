"""Periods and buckets: a local date range cut into days, weeks (Monday first) or months.

Dates are local to the dashboard's time zone (``[dashboard] timezone``); every bucket is
turned into a half-open UTC interval ``[lo, hi)`` once, here, so no query converts time
zones. The previous period (for 较上期) is the same number of whole months before when the
period is whole months, else the same number of days before.

This module knows nothing of the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

GRANULARITIES = ("day", "week", "month")
MAX_BUCKETS = 400  # a daily chart of about a year; longer ranges take weeks or months


class PeriodError(ValueError):
    """A period or granularity the dashboard cannot show; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DateRange:
    """Local dates, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError("to", "the period ends before it starts")


@dataclass(frozen=True)
class Bucket:
    """One day, week or month: its label (the first local day it covers, so the first week
    of a period starting on a Wednesday is labelled with that Wednesday, never with a Monday
    before the period) and its UTC interval."""

    label: date
    lo: datetime
    hi: datetime

    def key(self) -> str:
        return self.label.isoformat()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month."""
    n = day.year * 12 + day.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def bucket_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def next_start(start: date, granularity: str) -> date:
    if granularity == "week":
        return start + timedelta(days=7)
    if granularity == "month":
        return add_months(start, 1)
    return start + timedelta(days=1)


def check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise PeriodError("granularity", "granularity must be day, week or month")
    return granularity


def buckets(period: DateRange, granularity: str, tz: ZoneInfo) -> list[Bucket]:
    """The buckets covering the period; the first and last are cut to the period's ends."""
    check_granularity(granularity)
    out: list[Bucket] = []
    start = bucket_start(period.start, granularity)
    last = period.end + timedelta(days=1)
    while start < last:
        nxt = next_start(start, granularity)
        lo_day, hi_day = max(start, period.start), min(nxt, last)
        out.append(Bucket(lo_day, local_midnight(lo_day, tz), local_midnight(hi_day, tz)))
        if len(out) > MAX_BUCKETS:
            raise PeriodError("granularity", "too many buckets: choose week or month")
        start = nxt
    return out


def whole(period: DateRange, tz: ZoneInfo) -> Bucket:
    """The whole period as one bucket (the KPIs)."""
    return Bucket(
        period.start,
        local_midnight(period.start, tz),
        local_midnight(period.end + timedelta(days=1), tz),
    )


def previous(period: DateRange) -> DateRange:
    """The period before, of the same length (whole months stay whole months)."""
    after_end = period.end + timedelta(days=1)
    if period.start.day == 1 and after_end.day == 1:
        months = (after_end.year - period.start.year) * 12 + after_end.month - period.start.month
        start = add_months(period.start, -months)
        return DateRange(start, period.start - timedelta(days=1))
    days = (after_end - period.start).days
    return DateRange(period.start - timedelta(days=days), period.start - timedelta(days=1))


def parse_range(raw_from: str | None, raw_to: str | None, today: date) -> DateRange:
    """``from``/``to`` as ISO dates; the default is the last 30 days up to today."""
    try:
        end = date.fromisoformat(raw_to) if raw_to else today
    except ValueError:
        raise PeriodError("to", "to must be a date like 2026-05-18") from None
    try:
        start = date.fromisoformat(raw_from) if raw_from else end - timedelta(days=29)
    except ValueError:
        raise PeriodError("from", "from must be a date like 2026-05-01") from None
    return DateRange(start, end)


# The range picker's presets (总览): key → label. The default view is ``30d`` by day.
PRESETS = {
    "today": "今天",
    "7d": "近7天",
    "30d": "近30天",
    "month": "本月",
    "last_month": "上月",
}


def preset(key: str, today: date) -> DateRange:
    """The period a preset of the range picker means on `today` (a local date)."""
    if key == "today":
        return DateRange(today, today)
    if key == "7d":
        return DateRange(today - timedelta(days=6), today)
    if key == "30d":
        return DateRange(today - timedelta(days=29), today)
    first = today.replace(day=1)
    if key == "month":  # the whole month, so 较上期 compares with the whole month before
        return DateRange(first, add_months(first, 1) - timedelta(days=1))
    if key == "last_month":
        return DateRange(add_months(first, -1), first - timedelta(days=1))
    raise PeriodError("range", "range must be one of " + ", ".join(PRESETS))
