"""Reorder rhythm: each buyer's cycle from their order dates, and where they stand in it.

A buyer's cycle is the median gap in days between their order days once they have
``[rhythm] min_orders`` of them (3: two gaps); before that it is the median cycle of
buyers of the same tier (else of every buyer with a cycle, else ``default_cycle_days``).
The next order is expected one cycle after the last; the days since the last order, as a
multiple of the cycle, give the state:

- ``on_rhythm`` below ``due_after`` (1.0 × the cycle),
- ``due`` from there (the day a 补货提醒 goes out, ``scheduler`` kind ``reorder``),
- ``overdue`` from ``overdue_after`` (2.0 ×), ``lapsed`` from ``lapsed_after`` (4.0 ×).

Why the median: a buyer's gaps have outliers (a holiday, one urgent top-up) that would
drag a mean; the median of a handful of gaps is what the B2B ERPs use too. These are
pure functions over dates; ``insights/rhythm_store.py`` reads the orders and writes the
figures onto buyers, ``bench/rhythm.py`` backtests them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from bot.config import RhythmConfig
from bot.models import REORDER_STATES

ON_RHYTHM, DUE, OVERDUE, LAPSED = REORDER_STATES
STATES = REORDER_STATES
STATE_LABELS = {ON_RHYTHM: "节奏正常", DUE: "该补货了", OVERDUE: "已逾期", LAPSED: "已流失"}


@dataclass(frozen=True)
class Rhythm:
    """Where a buyer stands: their cycle (own, or their peers'), the expected next order."""

    last_order: date
    cycle_days: int
    own: bool  # from the buyer's own orders (else from similar buyers)
    next_order: date
    state: str
    days_overdue: int  # days past the expected date (0 before it)


def order_days(dates: Iterable[date]) -> list[date]:
    """The distinct days a buyer ordered, oldest first (two orders a day are one visit)."""
    return sorted(set(dates))


def own_cycle(days: Sequence[date], config: RhythmConfig) -> float | None:
    """The median gap between order days, once there are ``min_orders`` of them."""
    if len(days) < config.min_orders:
        return None
    return float(median((b - a).days for a, b in zip(days, days[1:], strict=False)))


def peer_cycles(
    own: Mapping[int, float], groups: Mapping[int, str | None], config: RhythmConfig
) -> tuple[dict[str | None, float], float]:
    """The median own cycle per group (tier) and over everyone, for buyers without one."""
    by_group: dict[str | None, list[float]] = {}
    for buyer_id, cycle in own.items():
        by_group.setdefault(groups.get(buyer_id), []).append(cycle)
    overall = float(median(own.values())) if own else float(config.default_cycle_days)
    return {g: float(median(c)) for g, c in by_group.items()}, overall


def state_of(days_since: int, cycle: float, config: RhythmConfig) -> str:
    """The state for `days_since` the last order, in a rhythm of `cycle` days."""
    ratio = days_since / cycle
    if ratio >= config.lapsed_after:
        return LAPSED
    if ratio >= config.overdue_after:
        return OVERDUE
    if ratio >= config.due_after:
        return DUE
    return ON_RHYTHM


def rhythm_of(
    days: Sequence[date], cycle: float, own: bool, today: date, config: RhythmConfig
) -> Rhythm:
    """A buyer's rhythm today, given their order days and their cycle (own or peers')."""
    cycle = max(cycle, 1.0)  # two orders a day apart at least
    whole = max(round(cycle), 1)
    last = days[-1]
    since = (today - last).days
    return Rhythm(
        last_order=last,
        cycle_days=whole,
        own=own,
        next_order=last + timedelta(days=whole),
        state=state_of(since, cycle, config),
        days_overdue=max(since - whole, 0),
    )


def rhythms(
    history: Mapping[int, Sequence[date]],
    groups: Mapping[int, str | None],
    today: date,
    config: RhythmConfig,
) -> dict[int, Rhythm]:
    """Every buyer's rhythm from their order days (days after `today` are not known yet)."""
    days = {b: order_days(d for d in ds if d <= today) for b, ds in history.items()}
    days = {b: ds for b, ds in days.items() if ds}
    own = {b: c for b, ds in days.items() if (c := own_cycle(ds, config)) is not None}
    by_group, overall = peer_cycles(own, groups, config)
    out = {}
    for buyer_id, ds in days.items():
        cycle = own.get(buyer_id)
        if cycle is not None:
            out[buyer_id] = rhythm_of(ds, cycle, True, today, config)
        else:
            peers = by_group.get(groups.get(buyer_id), overall)
            out[buyer_id] = rhythm_of(ds, peers, False, today, config)
    return out
