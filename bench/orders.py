"""Benchmark: import 1,000,000 order rows and recompute tiers for 100,000 buyers on SQLite.

    python bench/orders.py [--rows 1000000] [--buyers 100000] [--keep DIR]

Targets (issue 4): the import under 60 s, the recompute under 10 s. Prints both times, the
re-import of the same file (idempotent: nothing changes), and the process's peak memory
(RSS high-water mark). The CSV is generated first (not timed) with Chinese headers, "¥1,280.00"
amounts and a mix of statuses, in UTF-8 with BOM as platforms export it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.config import OrdersConfig, TiersConfig  # noqa: E402
from bot.database import create_engine, sessionmaker, upgrade  # noqa: E402
from bot.models import Buyer  # noqa: E402
from members.order_import import import_csv  # noqa: E402
from members.tier_recompute import recompute_tiers  # noqa: E402
from members.tiers import TierChange  # noqa: E402

TIERS = TiersConfig.model_validate(
    {
        "levels": [
            {"key": "normal", "name": "普通会员", "rank": 0, "min_orders": 1},
            {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000, "grace_days": 30},
            {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000, "grace_days": 30},
            {"key": "diamond", "name": "钻石会员", "rank": 3, "min_spend": 50000, "min_orders": 60},
        ]
    }
)
STATUSES = ["交易成功"] * 16 + ["卖家已发货", "买家已付款", "交易关闭", "已退款"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_csv(path: Path, rows: int, buyers: int, now: datetime) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("订单编号,买家会员名,手机号,实付款,订单创建时间,订单状态\n")
        for i in range(rows):
            b = rnd.randrange(buyers * 11 // 10)  # ~10 % of orders belong to no known buyer
            when = now - timedelta(minutes=rnd.randrange(60 * 24 * 540))
            cents = rnd.randrange(5_000, 800_000)
            out.write(
                f'{3_000_000_000_000 + i},tb_buyer{b},,"¥{cents // 100:,}.{cents % 100:02d}",'
                f"{when:%Y-%m-%d %H:%M:%S},{STATUSES[i % len(STATUSES)]}\n"
            )


async def seed_buyers(maker, buyers: int, now: datetime) -> None:
    async with maker() as session:
        for start in range(0, buyers, 20_000):
            await session.execute(
                insert(Buyer),
                [
                    {
                        "openid": f"o{i:027d}",
                        "first_seen_at": now,
                        "platform_account": f"tb_buyer{i}",
                        "subscribed": True,
                        "opted_out": False,
                        "tags": [],
                        "channels": [],
                        "interests": [],
                        "orders_12m": 0,
                        "spend_12m": 0.0,
                        "orders_total": 0,
                    }
                    for i in range(start, min(start + 20_000, buyers))
                ],
            )
        await session.commit()


async def run(rows: int, buyers: int, workdir: Path) -> int:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    now = datetime.now(UTC)
    csv_path = workdir / "orders.csv"
    t = time.perf_counter()
    write_csv(csv_path, rows, buyers, now)
    print(
        f"generated {rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t:.1f} s (not timed)"
    )
    engine = create_engine(url)
    maker = sessionmaker(engine)
    await seed_buyers(maker, buyers, now)
    config = OrdersConfig()
    ok = True

    t, cpu = time.perf_counter(), time.process_time()
    with csv_path.open("rb") as raw:
        result = await import_csv(maker, raw, config, now)
    took = time.perf_counter() - t
    ok &= took < 60
    print(
        f"import:    {result.rows:,} rows in {took:.1f} s (cpu {time.process_time() - cpu:.1f} s, "
        f"{result.rows / took:,.0f} rows/s); "
        f"inserted {result.inserted:,}, matched {result.matched:,}, bad {result.bad_count}  "
        f"[target < 60 s: {'OK' if took < 60 else 'MISSED'}]"
    )

    t, cpu = time.perf_counter(), time.process_time()
    rec = await recompute_tiers(maker, TIERS, now)
    took = time.perf_counter() - t
    ok &= took < 10
    async with maker() as session:
        members = await session.scalar(select(func.count()).where(Buyer.tier_key.is_not(None)))
        logged = await session.scalar(select(func.count()).select_from(TierChange))
    print(
        f"recompute: {buyers:,} buyers in {took:.1f} s (cpu {time.process_time() - cpu:.1f} s); "
        f"{rec.figures_changed:,} figures "
        f"changed, {rec.changes:,} tier changes ({members:,} members, {logged:,} logged)  "
        f"[target < 10 s: {'OK' if took < 10 else 'MISSED'}]"
    )

    t = time.perf_counter()
    rec = await recompute_tiers(maker, TIERS, now)
    print(
        f"recompute again (nothing changed): {time.perf_counter() - t:.1f} s, {rec.changes} changes"
    )

    t = time.perf_counter()
    with csv_path.open("rb") as raw:
        again = await import_csv(maker, raw, config, now)
    print(
        f"re-import: {again.rows:,} rows in {time.perf_counter() - t:.1f} s; inserted "
        f"{again.inserted}, updated {again.updated}, unchanged {again.unchanged:,}"
    )
    await engine.dispose()
    print(f"peak memory (RSS high-water): {peak_rss_mb():.0f} MB")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--buyers", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="laoke-bench-orders-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(run(args.rows, args.buyers, workdir))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
