"""Periods: their keys and bounds in Beijing time, and which may close when."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from statements.periods import PeriodError, closable, due, parse_period, period_of

TZ = "Asia/Shanghai"


def test_a_month_runs_from_beijing_midnight_to_beijing_midnight():
    p = parse_period("2026-11", "month", TZ)
    assert p.starts_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert p.ends_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert p.label == "2026年11月" and p.next().key == "2026-12" and p.previous().key == "2026-10"
    # 23:30 on 31 Oct in Beijing is still October.
    assert period_of(datetime(2026, 10, 31, 15, 30, tzinfo=UTC), "month", TZ).key == "2026-10"


def test_quarters_and_years_are_named_as_staff_write_them():
    q = parse_period("2026-q4", "quarter", TZ)
    assert q.key == "2026-Q4" and q.label == "2026年第4季度" and q.next().key == "2027-Q1"
    assert period_of(datetime(2026, 8, 1, tzinfo=UTC), "quarter", TZ).key == "2026-Q3"
    assert parse_period("2026", "year", TZ).ends_at == datetime(2026, 12, 31, 16, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "11月", "2026-Q4"])
def test_a_period_of_another_shape_is_refused_in_chinese(text):
    with pytest.raises(PeriodError, match="2026-11"):
        parse_period(text, "month", TZ)


def test_only_an_ended_period_closes_and_only_in_order():
    nov = parse_period("2026-11", "month", TZ)
    with pytest.raises(PeriodError, match="还没有结束"):
        closable(nov, datetime(2026, 11, 20, tzinfo=UTC), None, None)
    now = datetime(2027, 1, 5, tzinfo=UTC)
    closable(nov, now, None, None)  # the first close may be any ended period
    with pytest.raises(PeriodError, match="请按顺序"):
        closable(nov.next(), now, "2026-10", nov.previous().ends_at)
    with pytest.raises(PeriodError, match="不会再变"):
        closable(nov, now, "2026-11", nov.ends_at)


def test_the_daily_run_waits_the_grace_days_then_closes_what_is_due_in_order():
    oct_end = parse_period("2026-10", "month", TZ).ends_at
    assert due(datetime(2026, 12, 2, tzinfo=UTC), "month", TZ, 3, oct_end) == []
    due_now = due(datetime(2026, 12, 4, tzinfo=UTC), "month", TZ, 3, oct_end)
    assert [p.key for p in due_now] == ["2026-11"]
    # Nothing closed yet: only the latest ended period, not all of history.
    assert [p.key for p in due(datetime(2027, 3, 10, tzinfo=UTC), "month", TZ, 3, None)] == [
        "2027-02"
    ]
    # The scheduler was down for two months: both close, oldest first.
    late = due(datetime(2027, 1, 10, tzinfo=UTC), "month", TZ, 3, oct_end)
    assert [p.key for p in late] == ["2026-11", "2026-12"]
