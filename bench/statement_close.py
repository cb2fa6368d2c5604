"""Statements benchmark: closing a year of months over a supplier's orders, and what a buyer's
对账 costs.

    .venv/bin/python bench/statement_close.py [--buyers 5000] [--orders-per-month 10000]
    .venv/bin/python bench/statement_close.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

A fresh SQLite database in WAL mode (or a fresh PostgreSQL database with ``--postgres``) gets
`--buyers` buyers and `--orders-per-month` orders in each of twelve months (5% refunded in
full), and a three-step rebate ladder. The twelve months are closed in order
(``statements.close.close_period``: every statement, its lines and the accrued rebates in one
transaction; each close also compares every order of the closed months with what was recorded,
for the adjustment lines). Then 1% of the orders of closed months are refunded late and the
next month closes with their adjustments. It prints the wall time of each close (first,
median, last, and the one with adjustments), statements and lines written, and the latency
of one buyer's running figures (what 对账 / 这个月拿了多少货 compute) over 300 buyers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postgres_database import fresh_postgres  # noqa: E402  (bench/, beside this script)
from sqlalchemy import func, insert, select, update  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.database import create_engine, sessionmaker, upgrade  # noqa: E402
from bot.models import Buyer  # noqa: E402
from members.orders import Order  # noqa: E402
from statements.close import close_period  # noqa: E402
from statements.ladder import Ladder, Step, save_ladder  # noqa: E402
from statements.models import StatementLine  # noqa: E402
from statements.periods import Period  # noqa: E402
from statements.views import running_view  # noqa: E402

TZ = "Asia/Shanghai"
FIRST = Period("month", 2025, 1, TZ)
LADDER = Ladder(None, "spend", (Step(100, min_cents=300_000), Step(200, min_cents=1_000_000),
                                Step(300, min_cents=3_000_000)))  # fmt: skip


async def seed(maker, buyers: int, per_month: int, rng: random.Random) -> list[Period]:
    start = FIRST.starts_at
    async with maker() as session, session.begin():
        await session.execute(insert(Buyer), [
            {"openid": f"oBench{i:07d}", "first_seen_at": start, "tier_key": None}
            for i in range(buyers)
        ])  # fmt: skip
        ids = list(await session.scalars(select(Buyer.id)))
        await save_ladder(session, LADDER, "bench", start)
    periods, period, n = [], FIRST, 0
    for _ in range(13):
        periods.append(period)
        span = (period.ends_at - period.starts_at).total_seconds()
        rows = []
        for _ in range(per_month):
            n += 1
            at = period.starts_at + timedelta(seconds=rng.uniform(0, span - 1))
            refunded = rng.random() < 0.05
            rows.append({
                "order_no": f"B{n:09d}", "amount_cents": rng.randint(5_000, 800_000),
                "ordered_at": at, "status": "退款成功" if refunded else "交易成功",
                "counted": not refunded, "buyer_id": rng.choice(ids), "first_import": "bench",
                "last_import": "bench", "updated_at": at,
            })  # fmt: skip
        async with maker() as session, session.begin():
            await session.execute(insert(Order), rows)
        period = period.next()
    return periods


async def run(url: str, buyers: int, per_month: int) -> None:
    upgrade(url)
    engine = create_engine(url)
    maker = sessionmaker(engine)
    rng = random.Random(7)
    t0 = time.perf_counter()
    periods = await seed(maker, buyers, per_month, rng)
    print(f"seeded {buyers:,} buyers and {13 * per_month:,} orders in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    timings = []
    for period in periods[:12]:
        t = time.perf_counter()
        result = await close_period(
            maker, period, actor="bench", now=period.ends_at + timedelta(days=3)
        )
        timings.append(time.perf_counter() - t)
        assert not result.already
    async with maker() as session, session.begin():
        late = list(await session.scalars(
            select(Order.id).where(Order.counted.is_(True)).order_by(func.random()).limit(12 * per_month // 100)
        ))  # fmt: skip
        await session.execute(
            update(Order).where(Order.id.in_(late)).values(status="退款成功", counted=False)
        )
    t = time.perf_counter()
    result = await close_period(
        maker, periods[12], actor="bench", now=periods[12].ends_at + timedelta(days=3)
    )
    adjusted = time.perf_counter() - t
    async with maker() as session:
        lines = await session.scalar(select(func.count()).select_from(StatementLine))
        adjustments = await session.scalar(
            select(func.count()).select_from(StatementLine).where(StatementLine.kind == "adjustment")
        )  # fmt: skip
    print(f"close of a month: first {timings[0]:.2f} s, median {statistics.median(timings):.2f} s, "
          f"12th {timings[-1]:.2f} s")  # fmt: skip
    print(f"close with {adjustments:,} late refunds as adjustment lines: {adjusted:.2f} s "
          f"({result.statements:,} statements)")  # fmt: skip
    print(f"{lines:,} statement lines written in all")
    config = parse_config({"wechat": {"appid": "a", "secret": "b", "token": "c"},
                           "database": {"url": url}}, env={})  # fmt: skip
    open_period = periods[12].next()
    latencies = []
    async with maker() as session:
        sample = list(await session.scalars(select(Buyer).limit(300)))
        for buyer in sample:
            t = time.perf_counter()
            await running_view(session, config, open_period, buyer)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    print(f"one buyer's running figures: p50 {latencies[len(latencies) // 2]:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")  # fmt: skip
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--orders-per-month", type=int, default=10000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    args = parser.parse_args()
    if args.postgres:
        with fresh_postgres(args.postgres) as url:
            asyncio.run(run(url, args.buyers, args.orders_per_month))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(
            run(f"sqlite+aiosqlite:///{folder}/bench.db", args.buyers, args.orders_per_month)
        )


if __name__ == "__main__":
    main()
