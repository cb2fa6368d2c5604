"""Business hours: whether staff are in now, and when they next are, in the account's zone.

Read from ``[inbox]`` (business_hours, business_days, timezone). It decides nothing about
who answers; ``inbox/conversations.py`` uses it to word the buyer's acknowledgement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import InboxConfig


def is_open(config: InboxConfig, now: datetime) -> bool:
    """Whether `now` falls inside the business hours of a business day."""
    local = now.astimezone(ZoneInfo(config.timezone))
    start, end = config.opening()
    return local.isoweekday() in config.business_days and start <= local.time() < end


def next_opening(config: InboxConfig, now: datetime) -> datetime:
    """The next moment staff are in (local time), after `now` (which is outside the hours)."""
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    start, _end = config.opening()
    for days in range(0, 8):
        day = (local + timedelta(days=days)).date()
        opening = datetime.combine(day, start, tzinfo=zone)
        if day.isoweekday() in config.business_days and opening > local:
            return opening
    raise AssertionError("business_days is never empty")  # pragma: no cover


def when_words(config: InboxConfig, now: datetime) -> str:
    """How the buyer is told when staff answer: 今天 09:00 / 明天 09:00 / 周一 09:00."""
    local = now.astimezone(ZoneInfo(config.timezone))
    opening = next_opening(config, now)
    days = (opening.date() - local.date()).days
    clock = opening.strftime("%H:%M")
    if days == 0:
        return f"今天 {clock}"
    if days == 1:
        return f"明天 {clock}"
    weekday = "一二三四五六日"[opening.isoweekday() - 1]
    return f"周{weekday} {clock}"
