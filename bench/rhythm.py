"""Backtest: reorder reminders by rhythm ("due") against the blanket 30-day silence rule.

    python bench/rhythm.py [--buyers 2000] [--days 360] [--seed 7]

Generates order histories with known rhythms (cycles of 7 to 90 days, each gap jittered
log-normally, a share of buyers who stop ordering, some who start late), then walks the
evaluation period day by day. On each day each rule flags the buyers it would message —
at most once per cycle (until the buyer orders again):

- rhythm: the buyer's state (``insights/rhythm.py``, default ``[rhythm]`` thresholds) has
  become ``due``, from the orders before that day only;
- blanket: 30 days have passed since the buyer's last order.

It prints, for each rule: messages sent, the share of flagged buyers who reorder within
14 days of the message, the share of all reorders that came within 14 days after a
message, and messages sent per such reorder. Pure computation: no database.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import RhythmConfig  # noqa: E402
from insights.rhythm import DUE, rhythms  # noqa: E402

CYCLES = (7, 10, 14, 21, 30, 45, 60, 90)
WINDOW_DAYS = 14
BLANKET_DAYS = 30
WARM_UP_DAYS = 240  # history before the evaluation starts
START = date(2025, 1, 1)


@dataclass
class Score:
    messages: int = 0
    hits: int = 0  # messages followed by an order within WINDOW_DAYS
    reorders: int = 0
    flagged_reorders: int = 0

    def row(self, name: str) -> str:
        hit = self.hits / self.messages if self.messages else 0.0
        recall = self.flagged_reorders / self.reorders if self.reorders else 0.0
        per = self.messages / self.flagged_reorders if self.flagged_reorders else float("inf")
        return f"{name:<8} {self.messages:>9,} {hit:>22.1%} {recall:>20.1%} {per:>18.2f}"


def generate(buyers: int, days: int, rng: random.Random) -> tuple[dict, dict, dict]:
    """Order days per buyer, their tier (short cycles buy more: higher tiers), true cycle."""
    history: dict[int, list[date]] = {}
    groups: dict[int, str | None] = {}
    truth: dict[int, int] = {}
    end = WARM_UP_DAYS + days
    for b in range(buyers):
        cycle = rng.choice(CYCLES)
        stops = rng.randint(WARM_UP_DAYS // 2, end) if rng.random() < 0.2 else end + 1
        day = rng.randint(0, WARM_UP_DAYS + days // 2)
        out = []
        while day < min(stops, end):
            out.append(START + timedelta(days=day))
            day += max(1, round(cycle * rng.lognormvariate(0, 0.3)))
        if out:
            history[b], truth[b] = out, cycle
            groups[b] = "gold" if cycle <= 14 else ("silver" if cycle <= 45 else None)
    return history, groups, truth


def backtest(history: dict, groups: dict, days: int, config: RhythmConfig) -> dict[str, Score]:
    scores = {"rhythm": Score(), "blanket": Score()}
    flagged: dict[str, dict[int, date]] = {"rhythm": {}, "blanket": {}}  # last flag per buyer
    first = START + timedelta(days=WARM_UP_DAYS)
    for offset in range(days):
        today = first + timedelta(days=offset)
        known = {}
        for b, ds in history.items():
            n = bisect_left(ds, today)  # orders before today
            if n:
                known[b] = ds[:n]
        state = rhythms(known, groups, today, config)
        for b, ds in known.items():
            last = ds[-1]
            ordered_today = (n := bisect_left(history[b], today)) < len(history[b]) and history[b][
                n
            ] == today
            wants = {
                "rhythm": state[b].state == DUE,
                "blanket": (today - last).days >= BLANKET_DAYS,
            }
            for rule, want in wants.items():
                mark = flagged[rule].get(b)
                if want and (mark is None or mark <= last):
                    flagged[rule][b] = today  # messaged today (once per cycle)
                    scores[rule].messages += 1
                    upcoming = history[b][bisect_left(history[b], today) :]
                    if upcoming and (upcoming[0] - today).days < WINDOW_DAYS:
                        scores[rule].hits += 1
                if ordered_today:
                    scores[rule].reorders += 1
                    mark = flagged[rule].get(b)
                    if mark is not None and mark > last and (today - mark).days < WINDOW_DAYS:
                        scores[rule].flagged_reorders += 1
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=360)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = RhythmConfig()
    history, groups, truth = generate(args.buyers, args.days, random.Random(args.seed))
    started = time.perf_counter()
    scores = backtest(history, groups, args.days, config)
    took = time.perf_counter() - started
    orders = sum(len(d) for d in history.values())
    print(
        f"{len(history):,} buyers, {orders:,} orders, {args.days} days evaluated "
        f"(due at {config.due_after:g}× the cycle; window {WINDOW_DAYS} days) in {took:.1f} s"
    )
    print(
        f"{'rule':<8} {'messages':>9} {'flagged who reorder ≤14d':>22} "
        f"{'reorders flagged':>20} {'messages/reorder':>18}"
    )
    for name, score in scores.items():
        print(score.row(name))


if __name__ == "__main__":
    main()
