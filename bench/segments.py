"""Benchmark: counting a segment over 1,000,000 buyers on SQLite (target: under 1 s).

Seeds a migrated SQLite file with varied buyers in one INSERT … SELECT over a recursive CTE
(tiers, business types, regions, JSON lists of interests/channels/tags, ages, order figures),
then times ``count_segment`` — the same code the API and CLI preview use — for a few typical
segments. It prints wall time (the target) and the process's CPU time, which stays put when
other work competes for the cores. Usage::

    python bench/segments.py [--buyers 1000000] [--db /tmp/laoke-seg.db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from bot.clock import FakeClock
from bot.database import create_engine, sessionmaker, upgrade
from scheduler.saved_segments import count_segment

NOW = FakeClock().now()

# Columns not listed take what the CTE gives; JSON lists are built with json_array so the
# stored text is exactly what SQLAlchemy would have written.
SEED_SQL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO buyers (
    openid, subscribed, subscribed_at, first_seen_at, last_interaction_at, opted_out, tags,
    business_type, channels, interests, province, city, tier_key,
    orders_12m, spend_12m, orders_total
)
SELECT
    'bench-' || i,
    i % 20 != 0,
    datetime(:now, '-' || (i % 900) || ' days') || '.000000',
    datetime(:now, '-' || (i % 900) || ' days') || '.000000',
    datetime(:now, '-' || (i % 365) || ' days', '-' || (i % 1440) || ' minutes') || '.000000',
    i % 50 = 0,
    CASE i % 7 WHEN 0 THEN json_array('vip') WHEN 1 THEN json_array('展会', 'vip')
               ELSE json_array() END,
    CASE i % 6 WHEN 0 THEN 'taobao' WHEN 1 THEN 'social' WHEN 2 THEN 'cross_border'
               WHEN 3 THEN 'store' WHEN 4 THEN 'wholesale' ELSE 'other' END,
    CASE i % 4 WHEN 0 THEN json_array('淘宝', '抖音') WHEN 1 THEN json_array('线下门店')
               ELSE json_array('微信') END,
    CASE i % 5 WHEN 0 THEN json_array('女装', '童装') WHEN 1 THEN json_array('男装')
               WHEN 2 THEN json_array('鞋靴', '女装') ELSE json_array('家居') END,
    CASE i % 3 WHEN 0 THEN '浙江省' WHEN 1 THEN '广东省' ELSE '江苏省' END,
    CASE i % 3 WHEN 0 THEN '杭州市' WHEN 1 THEN '广州市' ELSE '苏州市' END,
    CASE i % 10 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' WHEN 2 THEN 'silver'
                ELSE NULL END,
    i % 13,
    (i % 13) * 731.5,
    i % 17
FROM n
"""

SEGMENTS = {
    "gold or silver, dormant 30+ days, likes 女装, not opted out": {
        "all": [
            {"field": "tier", "op": "in", "value": ["gold", "silver"]},
            {"field": "days_since_interaction", "op": "gte", "value": 30},
            {"field": "interests", "op": "contains", "value": "女装"},
            {"not": {"field": "opted_out", "op": "eq", "value": True}},
        ]
    },
    "returning buyers in 广东 spending ¥5,000+": {
        "all": [
            {"field": "customer", "op": "eq", "value": "returning"},
            {"field": "region", "op": "eq", "value": "广东"},
            {"field": "spend_12m", "op": "gte", "value": 5000},
        ]
    },
    "tagged vip or sells on 抖音, followed 180+ days": {
        "all": [
            {
                "any": [
                    {"field": "tags", "op": "contains", "value": "vip"},
                    {"field": "channels", "op": "contains", "value": "抖音"},
                ]
            },
            {"field": "days_since_follow", "op": "gte", "value": 180},
        ]
    },
    "everyone subscribed (the recall baseline)": {
        "field": "subscribed",
        "op": "eq",
        "value": True,
    },
}


def seed(path: Path, count: int) -> float:
    """Create and fill the database; returns the seconds taken."""
    started = time.perf_counter()
    upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.execute(SEED_SQL, {"count": count, "now": NOW.strftime("%Y-%m-%d %H:%M:%S")})
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


async def time_counts(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    make = sessionmaker(engine)
    try:
        for label, spec in SEGMENTS.items():
            async with make() as session:
                await count_segment(session, spec, NOW)  # warm the page cache once
                started, cpu_started = time.perf_counter(), time.process_time()
                counts = await count_segment(session, spec, NOW)
                took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            verdict = "ok" if took < 1.0 else "OVER 1 s"
            print(
                f"  {took * 1000:7.0f} ms (cpu {cpu * 1000:5.0f} ms)  {counts.matching:>9,} buyers "
                f"({counts.reachable:,} reachable, {counts.in_window:,} in window)  "
                f"{label}  [{verdict}]"
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep this SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "segments.db"
        if not path.exists():
            took = seed(path, args.buyers)
            print(f"seeded {args.buyers:,} buyers in {took:.1f} s ({path})")
        print(
            f"segment count over SQLite (target < 1 s each; load average {os.getloadavg()[0]:.1f}):"
        )
        asyncio.run(time_counts(path))


if __name__ == "__main__":
    main()
