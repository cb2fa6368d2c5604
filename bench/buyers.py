"""Benchmark: the buyer book over 1,000,000 buyers on SQLite (targets: a search < 200 ms, a
filtered list page < 200 ms, a buyer page's queries < 100 ms).

Seeds a migrated SQLite file with varied buyers (names, companies, phones, platform accounts,
tiers, regions, tags, interaction times, order figures) in one INSERT … SELECT over a
recursive CTE, 500,000 orders spread over them, and a long history (messages both ways,
orders, tier changes) for one buyer. Then it times the console's own functions: a search is
``list_buyers`` with a search word (one page of 50 and the total), a list page is
``list_buyers`` with filter chips compiled like the console does, without the total as the
console asks for it (also page 2 through the keyset cursor), then each list's total alone, a buyer page is every query ``/admin/buyers/{id}`` runs. Each figure is the
median of 5 runs after one warm-up, wall time and process CPU time. Usage::

    python bench/buyers.py [--buyers 1000000] [--db /tmp/laoke-buyers.db]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# The project before bench/ (whose followers.py would shadow the followers package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import FakeClock
from bot.config import parse_config
from bot.database import create_engine, sessionmaker, upgrade
from bot.models import Buyer
from console.buyer_filters import condition, parse_filters
from console.queries.buyer_timeline import (
    audit_entries,
    recent_orders,
    staff_edited_fields,
    timeline,
)
from members.buyer_book import count_buyers, list_buyers, notes_for

NOW = FakeClock().now()
STAMP = NOW.strftime("%Y-%m-%d %H:%M:%S")

SEED_BUYERS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO buyers (
    openid, subscribed, subscribed_at, first_seen_at, last_interaction_at, opted_out, tags,
    display_name, company, phone, platform_account, card_completed_at,
    business_type, channels, interests, province, city, tier_key,
    orders_12m, spend_12m, orders_total
)
SELECT
    'o' || printf('%027d', i),
    i % 20 != 0,
    datetime(:now, '-' || (i % 900) || ' days') || '.000000',
    datetime(:now, '-' || (i % 900) || ' days') || '.000000',
    CASE WHEN i % 11 = 0 THEN NULL
         ELSE datetime(:now, '-' || (i % 365) || ' days', '-' || (i % 1440) || ' minutes')
              || '.000000' END,
    i % 50 = 0,
    CASE i % 7 WHEN 0 THEN json_array('vip') WHEN 1 THEN json_array('展会', 'vip')
               ELSE json_array() END,
    substr('张王李赵刘陈杨黄周吴', 1 + i % 10, 1) || (i % 9973) || '总',
    substr('广州杭州苏州深圳义乌', 1 + 2 * (i % 5), 2) || '服饰' || i || '号店',
    '13' || printf('%09d', i),
    'shop_' || i,
    CASE WHEN i % 3 = 0 THEN datetime(:now, '-' || (i % 800) || ' days') || '.000000' END,
    CASE i % 6 WHEN 0 THEN 'taobao' WHEN 1 THEN 'social' WHEN 2 THEN 'cross_border'
               WHEN 3 THEN 'store' WHEN 4 THEN 'wholesale' ELSE 'other' END,
    json_array('微信'),
    CASE i % 5 WHEN 0 THEN json_array('女装', '童装') WHEN 1 THEN json_array('男装')
               ELSE json_array('家居') END,
    CASE i % 3 WHEN 0 THEN '浙江省' WHEN 1 THEN '广东省' ELSE '江苏省' END,
    CASE i % 3 WHEN 0 THEN '杭州市' WHEN 1 THEN '广州市' ELSE '苏州市' END,
    CASE i % 10 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' WHEN 2 THEN 'silver' ELSE NULL END,
    i % 13, (i % 13) * 731.5, i % 17
FROM n
"""
SEED_ORDERS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO orders (order_no, amount_cents, ordered_at, status, counted, buyer_id,
                    first_import, last_import, updated_at)
SELECT 'NO' || i, 10000 + (i % 997) * 100,
       datetime(:now, '-' || (i % 700) || ' days') || '.000000', '已完成', i % 9 != 0,
       1 + (i * 7919) % :buyers, 'bench', 'bench', :now || '.000000'
FROM n
"""
# One buyer with a long history: what a buyer page reads through the per-buyer indexes.
HISTORY = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO {table} SELECT {columns} FROM n
"""
INBOUND = ("inbound_messages (dedup_key, openid, msg_type, content, received_at, status, "
           "deferred)",
           "'hist-' || i, :openid, 'text', '有货吗' || i, "
           "datetime(:now, '-' || i || ' hours') || '.000000', 'done', 0")  # fmt: skip
OUTBOUND = ("outbound_messages (openid, channel, purpose, content, created_at, result)",
            ":openid, 'custom', CASE i % 4 WHEN 0 THEN 'campaign' ELSE 'reply' END, "
            "'您好' || i, datetime(:now, '-' || i || ' hours', '+1 minute') || '.000000', 'ok'")  # fmt: skip

CONFIG = parse_config(
    {
        "wechat": {"appid": "wx0", "secret": "s", "token": "t"},
        "tiers": {
            "levels": [
                {"key": "silver", "name": "银卡", "rank": 1, "min_spend": 5000},
                {"key": "gold", "name": "金卡", "rank": 2, "min_spend": 20000},
            ]
        },
        "card": {"interest_categories": ["女装", "男装", "童装", "家居"]},
    },
    env={},
)


def seed(path: Path, buyers: int, orders: int) -> tuple[float, str]:
    started = time.perf_counter()
    upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.execute(SEED_BUYERS, {"count": buyers, "now": STAMP})
        conn.execute(SEED_ORDERS, {"count": orders, "now": STAMP, "buyers": buyers})
        openid = conn.execute("SELECT openid FROM buyers WHERE id = 7").fetchone()[0]
        for table, columns in (INBOUND, OUTBOUND):
            conn.execute(HISTORY.format(table=table, columns=columns),
                         {"openid": openid, "now": STAMP})  # fmt: skip
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started, openid


async def _median(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    result = await work()  # warm-up
    walls, cpus = [], []
    for _ in range(5):
        started, cpu = time.perf_counter(), time.process_time()
        result = await work()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def _report(label: str, wall: float, cpu: float, target: float, extra: str) -> None:
    verdict = "ok" if wall < target else f"OVER {target * 1000:.0f} ms"
    print(f"  {wall * 1000:7.1f} ms (cpu {cpu * 1000:6.1f} ms)  {extra:<24} {label}  [{verdict}]")


async def run(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    make = sessionmaker(engine)

    async def book(params: dict[str, str], *, count: bool = True) -> Any:
        filters = parse_filters(params, CONFIG)
        async with make() as session:
            return await list_buyers(
                session, condition(filters, NOW), filters.q,
                sort=filters.sort, desc=filters.desc, cursor=filters.cursor, count=count,
            )  # fmt: skip

    async def total(params: dict[str, str]) -> int:
        filters = parse_filters(params, CONFIG)
        async with make() as session:
            return await count_buyers(session, condition(filters, NOW), filters.q)

    try:
        print("search (a page of 50 and the total; target < 200 ms):")
        for label, q in (
            ("phone, last 4 digits", "4321"),
            ("whole phone", "13000654321"),
            ("name prefix", "王1"),
            ("company prefix", "义乌服饰1234"),
            ("openid", f"o{777777:027d}"),
            ("platform account", "shop_31415"),
        ):
            wall, cpu, page = await _median(lambda q=q: book({"q": q}))
            _report(label, wall, cpu, 0.2, f"{page.total:,} found")
        print("filtered list page, as the console asks for it: the rows without the total")
        print("(target < 200 ms; the total, 共 N 条, follows in its own request):")
        lists = {
            "everyone, by last interaction": {},
            "gold, by last interaction": {"tier": "gold"},
            "gold in 广东, by spend": {"tier": "gold", "region": "广东", "sort": "spend_12m"},
            "returning, 30 days, by orders": {
                "status": "returning",
                "days": "30",
                "sort": "orders_total",
            },  # fmt: skip
            "tag vip, card given, by follow date": {
                "tag": "vip",
                "card": "yes",
                "sort": "subscribed_at",
            },  # fmt: skip
            "lapsed silver, oldest follow first": {
                "tier": "silver",
                "status": "lapsed",
                "sort": "subscribed_at",
                "dir": "asc",
            },  # fmt: skip
        }
        for label, params in lists.items():
            wall, cpu, page = await _median(lambda p=params: book(p, count=False))
            _report(label, wall, cpu, 0.2, f"{len(page.rows)} rows")
            if page.next_cursor:
                nxt = params | {"after": page.next_cursor}
                wall, cpu, page = await _median(lambda p=nxt: book(p, count=False))
                _report(label + " (page 2)", wall, cpu, 0.2, f"{len(page.rows)} rows")
        print("the total of each list (/admin/buyers/total, after the page; no target):")
        for label, params in lists.items():
            wall, cpu, n = await _median(lambda p=params: total(p))
            _report(label, wall, cpu, 1.0, f"{n:,} match")
        print("buyer page (every query of /admin/buyers/{id}; target < 100 ms):")

        async def buyer_page() -> int:
            async with make() as session:
                buyer = await session.get(Buyer, 7)
                entries = await timeline(session, buyer)
                await notes_for(session, buyer.id)
                await audit_entries(session, buyer.id)
                await staff_edited_fields(session, buyer.id)
                await recent_orders(session, buyer.id)
                session.expunge_all()
                return len(entries)

        wall, cpu, shown = await _median(buyer_page)
        _report("buyer with 4,000 messages and its orders", wall, cpu, 0.1, f"{shown} entries")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=500_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep this SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "buyers.db"
        if not path.exists():
            took, _openid = seed(path, args.buyers, args.orders)
            print(f"seeded {args.buyers:,} buyers and {args.orders:,} orders in {took:.1f} s")
        asyncio.run(run(path))


if __name__ == "__main__":
    main()
