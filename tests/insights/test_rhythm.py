"""Reorder rhythm as numbers: a buyer's cycle is the median gap once they have three orders,
their peers' (same tier) before that, and the state follows the days since the last order."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.config import RhythmConfig
from insights.rhythm import DUE, LAPSED, ON_RHYTHM, OVERDUE, rhythms

CONFIG = RhythmConfig()
START = date(2026, 1, 1)


def every(days: int, count: int) -> list[date]:
    return [START + timedelta(days=days * k) for k in range(count)]


def state_on(history: dict, groups: dict, buyer: int, day: date) -> str:
    return rhythms(history, groups, day, CONFIG)[buyer].state


def test_a_ten_day_buyer_is_due_on_day_ten_and_a_sixty_day_buyer_not_on_day_thirty():
    history = {1: every(10, 5), 2: every(60, 4)}
    last10, last60 = history[1][-1], history[2][-1]
    assert state_on(history, {}, 1, last10 + timedelta(days=9)) == ON_RHYTHM
    assert state_on(history, {}, 1, last10 + timedelta(days=10)) == DUE
    assert state_on(history, {}, 2, last60 + timedelta(days=30)) == ON_RHYTHM
    assert state_on(history, {}, 2, last60 + timedelta(days=60)) == DUE


@pytest.mark.parametrize(("days", "state"), [(19, DUE), (20, OVERDUE), (39, OVERDUE), (40, LAPSED)])
def test_states_follow_multiples_of_the_cycle(days, state):
    history = {1: every(10, 4)}
    assert state_on(history, {}, 1, history[1][-1] + timedelta(days=days)) == state


def test_the_median_ignores_one_odd_gap_and_two_orders_a_day_are_one_visit():
    days = [START, START, START + timedelta(days=14), START + timedelta(days=16),
            START + timedelta(days=30), START + timedelta(days=44)]  # fmt: skip
    rhythm = rhythms({1: days}, {}, START + timedelta(days=50), CONFIG)[1]
    assert (rhythm.cycle_days, rhythm.own) == (14, True)
    assert rhythm.next_order == START + timedelta(days=58)
    assert rhythm.days_overdue == 0


def test_a_buyer_with_few_orders_takes_the_cycle_of_buyers_of_the_same_tier():
    history = {1: every(7, 4), 2: every(9, 4), 3: every(40, 4), 4: [START], 5: [START]}
    groups = {1: "gold", 2: "gold", 3: None, 4: "gold", 5: "silver"}
    today = START + timedelta(days=200)
    result = rhythms(history, groups, today, CONFIG)
    assert (result[4].cycle_days, result[4].own) == (8, False)  # gold peers: 7 and 9
    assert result[5].cycle_days == 9  # no silver peer: the median of everyone (7, 9, 40)
    assert result[4].days_overdue == 200 - 8


def test_orders_after_today_are_not_known_yet():
    history = {1: every(10, 6)}
    result = rhythms(history, {}, START + timedelta(days=25), CONFIG)
    assert result[1].last_order == START + timedelta(days=20)
