"""Time, injected: everything that needs "now" takes a Clock so tests can move time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """The real clock; returns timezone-aware UTC datetimes."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock(Clock):
    """A clock that only moves when told to (tests, the demo's time travel)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 5, 18, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
