"""Backtest: reorder reminders by rhythm ("due") against the blanket 30-day silence rule.

    python bench/rhythm.py [--buyers 2000] [--days 360] [--seed 7] [--demo]

Generates order histories with known rhythms (cycles of 7 to 90 days, each gap jittered
log-normally, a share of buyers who stop ordering, some who start late), then walks the
evaluation period day by day. On each day each rule flags the buyers it would message —
at most once per cycle (until the buyer orders again):

- rhythm: the buyer's state (``insights/rhythm.py``, default ``[rhythm]`` thresholds) has
  become ``due``, from the orders before that day only;
- blanket: 30 days have passed since the buyer's last order.

It prints, for each rule: messages sent, the share of flagged buyers who reorder within
14 days of the message, the share of all reorders that came within 14 days after a
message, and messages sent per such reorder. ``--demo`` also replays the year that
``laoke demo`` seeds (its own buyers' orders and the history's), read from a temporary
SQLite database: the last 180 days are evaluated, the orders before them are the history.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import RhythmConfig  # noqa: E402
from insights.rhythm import DUE, rhythms  # noqa: E402

CYCLES = (7, 10, 14, 21, 30, 45, 60, 90)
WINDOW_DAYS = 14
BLANKET_DAYS = 30
WARM_UP_DAYS = 240  # history before the evaluation starts
START = date(2025, 1, 1)
DEMO_DAYS = 180


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


def backtest(
    history: dict, groups: dict, first: date, days: int, config: RhythmConfig
) -> dict[str, Score]:
    """Walk `days` days from `first`, scoring both rules on the orders known each day."""
    scores = {"rhythm": Score(), "blanket": Score()}
    flagged: dict[str, dict[int, date]] = {"rhythm": {}, "blanket": {}}  # last flag per buyer
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
    parser.add_argument("--demo", action="store_true", help="also backtest the demo's year")
    args = parser.parse_args()
    config = RhythmConfig()
    history, groups, truth = generate(args.buyers, args.days, random.Random(args.seed))
    started = time.perf_counter()
    first = START + timedelta(days=WARM_UP_DAYS)
    scores = backtest(history, groups, first, args.days, config)
    report("generated histories", history, args.days, config, scores, started)
    if args.demo:
        history, groups, today = asyncio.run(demo_year())
        started = time.perf_counter()
        scores = backtest(history, groups, today - timedelta(days=DEMO_DAYS), DEMO_DAYS, config)
        report("the demo's year", history, DEMO_DAYS, config, scores, started)


def report(title: str, history: dict, days: int, config: RhythmConfig, scores, started) -> None:
    took = time.perf_counter() - started
    orders = sum(len(d) for d in history.values())
    print(
        f"{title}: {len(history):,} buyers, {orders:,} orders, {days} days evaluated "
        f"(due at {config.due_after:g}× the cycle; window {WINDOW_DAYS} days) in {took:.1f} s"
    )
    print(
        f"{'rule':<8} {'messages':>9} {'flagged who reorder ≤14d':>22} "
        f"{'reorders flagged':>20} {'messages/reorder':>18}"
    )
    for name, score in scores.items():
        print(score.row(name))
    print()


async def demo_year() -> tuple[dict, dict, date]:
    """The order days and tiers of the buyers `laoke demo` seeds, and the demo's today."""
    from sqlalchemy import select

    from bot.clock import FakeClock
    from bot.config import parse_config
    from bot.database import create_engine, sessionmaker, upgrade
    from bot.models import Buyer
    from demo.demo import DEMO_TIERS, seed_demo
    from members.orders import Order

    clock = FakeClock()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/demo.db"
        await asyncio.to_thread(upgrade, url)
        config = parse_config(
            {
                "wechat": {"appid": "wxbench", "secret": "s", "token": "t"},
                "database": {"url": url},
                "tiers": {"levels": DEMO_TIERS},
            },
            env={},
        )
        engine = create_engine(config.database)
        sessions = sessionmaker(engine)
        try:
            await seed_demo(sessions, config, clock)
            zone = ZoneInfo(config.orders.timezone)
            history: dict[int, list[date]] = {}
            async with sessions() as session:
                rows = await session.execute(
                    select(Order.buyer_id, Order.ordered_at)
                    .where(Order.counted.is_(True), Order.buyer_id.is_not(None))
                    .order_by(Order.ordered_at)
                )
                for buyer_id, at in rows:
                    history.setdefault(buyer_id, []).append(at.astimezone(zone).date())
                groups = dict((await session.execute(select(Buyer.id, Buyer.tier_key))).all())
        finally:
            await engine.dispose()
    history = {b: sorted(set(ds)) for b, ds in history.items()}
    return history, groups, clock.now().astimezone(zone).date()


if __name__ == "__main__":
    main()
