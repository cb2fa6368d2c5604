"""The test session's wall clock: pinned to a chosen moment, and who read it.

Every test that needs a particular time of day injects a FakeClock (or an OffsetClock) of its
own. What this module catches is the test that forgot to: with ``LAOKE_TEST_CLOCK`` set, the
real ``bot.clock.Clock`` of the whole session (servers started in-process, the demo, the
simulators, the tests' own ``Clock().now()``) reads as if the session had started at that
moment and ticks on from there. ``scripts/test`` runs the suite pinned to a weekday night and
re-runs, pinned to a weekend day, every test that read the wall clock; a test that passes only
in office hours fails either way, on any machine at any hour.

``LAOKE_TEST_CLOCK`` is ``night`` (the next Monday–Thursday, 22:40 Beijing time), ``weekend``
(the next Sunday, 10:30) or an ISO datetime with its offset. The moments are taken ahead of the
real time, within a week, so that nothing the browser compares with its own clock (cookies,
caches) is ever in the past. With ``LAOKE_TEST_CLOCK_LOG`` set to a path, the node ids of the
tests that read the wall clock are written there (one file per xdist worker).

The product itself never reads the time any other way: ``tests/test_architecture.py`` refuses
``datetime.now()``, ``time.time()`` and ``date.today()`` outside ``bot/clock.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import Clock, OffsetClock

ENV = "LAOKE_TEST_CLOCK"
# The pinned clock's offset from the real one, in seconds, handed to child processes so that
# they read exactly the test's time (tests/laoke_process.py).
OFFSET_ENV = "LAOKE_TEST_CLOCK_OFFSET"
LOG_ENV = "LAOKE_TEST_CLOCK_LOG"
BEIJING = ZoneInfo("Asia/Shanghai")

# The named moments: weekdays (ISO numbers) and a time of day in Beijing. ``office`` is for
# tests that need staff at work, whatever the hour the suite runs at.
MOMENTS = {
    "night": ((1, 2, 3, 4), time(22, 40)),
    "weekend": ((7,), time(10, 30)),
    "office": ((2, 3, 4), time(10, 40)),
}

_real_now = Clock.now
_readers: set[str] = set()
_current = {"test": ""}


def moment(spec: str, real_now: datetime) -> datetime:
    """The moment `spec` names (night, weekend or ISO), at or after `real_now` for the names."""
    if spec in MOMENTS:
        days, at = MOMENTS[spec]
        local = real_now.astimezone(BEIJING)
        for ahead in range(0, 8):
            day = local.date() + timedelta(days=ahead)
            candidate = datetime.combine(day, at, tzinfo=BEIJING)
            if day.isoweekday() in days and candidate > local:
                return candidate.astimezone(UTC)
        raise AssertionError("a week always holds the day")  # pragma: no cover
    try:
        parsed = datetime.fromisoformat(spec)
    except ValueError:
        raise SystemExit(f"{ENV}={spec!r}: expected night, weekend or an ISO datetime") from None
    if parsed.tzinfo is None:
        raise SystemExit(f"{ENV}={spec!r}: give the offset, e.g. 2026-12-09T22:40+08:00")
    return parsed.astimezone(UTC)


def office_clock() -> OffsetClock:
    """A ticking clock that starts on a weekday morning, staff at work (ahead of the real time)."""
    return OffsetClock(moment("office", _real_now(Clock())))


def install() -> datetime | None:
    """Pin the real Clock when the environment asks for it; returns the moment (or None)."""
    spec = os.environ.get(ENV, "").strip()
    pinned = None
    if os.environ.get(OFFSET_ENV):
        pinned = OffsetClock(_real_now(Clock()) + timedelta(seconds=float(os.environ[OFFSET_ENV])))
    elif spec:
        pinned = OffsetClock(moment(spec, _real_now(Clock())))
        os.environ[OFFSET_ENV] = str((pinned.now() - _real_now(Clock())).total_seconds())

    def now(self: Clock) -> datetime:
        if _current["test"]:
            _readers.add(_current["test"])
        return pinned.now() if pinned is not None else _real_now(self)

    Clock.now = now  # type: ignore[method-assign]
    return pinned.now() if pinned is not None else None


def running(nodeid: str) -> None:
    _current["test"] = nodeid


def write_log(worker: str) -> None:
    """Append the node ids of the tests that read the wall clock to the log, if one is asked for."""
    target = os.environ.get(LOG_ENV)
    if not target:
        return
    path = Path(f"{target}.{worker}")
    with path.open("a", encoding="utf-8") as out:
        out.writelines(f"{nodeid}\n" for nodeid in sorted(_readers))
