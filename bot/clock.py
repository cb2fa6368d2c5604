"""Time, injected: everything that needs "now" takes a Clock so tests can move time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """The real clock; returns timezone-aware UTC datetimes."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock(Clock):
    """The real clock read as if it had shown `start` when created; it ticks at real speed.

    For a whole process pinned to a moment that must still pass time (a test session run "at
    night", a live server whose timers fire): unlike FakeClock it never stands still.
    """

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


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
