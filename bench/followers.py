"""Follower sync benchmark: 100,000 followers synced by `laoke serve` while buyers chat.

    .venv/bin/python bench/followers.py [--followers 100000] [--concurrency 4]
    .venv/bin/python bench/followers.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

Two real subprocesses on loopback: the WeChat API simulator (``laoke fake-wechat``), seeded
with `--followers` synthetic followers (subscribe times over three years, the platform's mix
of scenes), and ``laoke serve`` on SQLite in WAL mode (or a fresh PostgreSQL database with
``--postgres``) pointed at it, scheduler and senders off. First the webhook alone is driven
for `--idle` seconds by `--concurrency` buyers in a closed loop (bench/webhook.py's load
generator: signed text messages, each waiting for its reply); then ``POST
/api/followers/sync`` starts the sync inside the server and the same load runs until the
sync is done; then a second sync runs (nothing to change: what an idempotent daily run
costs). It prints the sync's wall time, the rows per second, the API calls it used against
WeChat's daily quotas (``user/get`` 500, ``user/info/batchget`` 500,000), the server's
memory, and the webhook's p50/p99 idle and during the sync.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postgres_database import fresh_postgres  # noqa: E402  (bench/, beside this script)
from webhook import (  # noqa: E402
    APPID,
    TOKEN,
    Result,
    drive,
    free_port,
    laoke_command,
    wait_until_up,
)

SECRET = "bench-secret"
API_TOKEN = "bench-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
QUOTAS = {"user/get": 500, "user/info/batchget": 500_000}


def write_config(folder: Path, port: int, fake_port: int, db_url: str) -> Path:
    path = folder / "laoke.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
spool_dir = "{folder / "spool"}"
run_senders = false
run_scheduler = false

[wechat]
appid = "{APPID}"
secret = "{SECRET}"
token = "{TOKEN}"
encrypt_mode = "plain"
api_base_url = "http://127.0.0.1:{fake_port}/"

[database]
url = "{db_url}"

[api]
token = "{API_TOKEN}"

[followers]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def percentiles(latencies: list[float]) -> tuple[float, float]:
    lat = sorted(latencies)
    if not lat:
        return float("nan"), float("nan")
    return statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


async def run_sync(http: aiohttp.ClientSession, base: str) -> dict:
    async with http.post(base + "api/followers/sync", headers=AUTH) as resp:
        if resp.status != 202:
            raise SystemExit(f"sync not started: {resp.status} {await resp.text()}")
        job = await resp.json()
    while job["status"] == "running":
        await asyncio.sleep(0.25)
        async with http.get(base + f"api/followers/sync/{job['id']}", headers=AUTH) as resp:
            job = await resp.json()
    return job


async def chat_while(url: str, concurrency: int, busy: asyncio.Task) -> Result:
    """The webhook under load until `busy` is done, in 2-second rounds."""
    total = Result("during the sync")
    while not busy.done():
        part = await drive("during", url, 2.0, concurrency, b"<Content>")
        total.latencies += part.latencies
        total.errors += part.errors
        total.seconds += part.seconds
    return total


async def bench(folder: Path, args: argparse.Namespace, db_url: str) -> None:
    fake_port, port = free_port(), free_port()
    fake_log = (folder / "fake.log").open("wb")
    fake = await asyncio.create_subprocess_exec(
        *laoke_command(), "fake-wechat", "--port", str(fake_port), "--appid", APPID,
        "--secret", SECRET, stdout=fake_log, stderr=fake_log,
    )  # fmt: skip
    config = write_config(folder, port, fake_port, db_url)
    upgrade = await asyncio.create_subprocess_exec(
        *laoke_command(), "db", "upgrade", "-c", str(config), stdout=asyncio.subprocess.DEVNULL
    )
    if await upgrade.wait():
        raise SystemExit("laoke db upgrade failed")
    log = (folder / "laoke.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        *laoke_command(), "serve", "-c", str(config), stdout=log, stderr=log
    )
    base, fake_base = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{fake_port}/"
    try:
        await wait_until_up(fake_base + "_sim/stats", fake, folder / "fake.log")
        await wait_until_up(base + "healthz", server, folder / "laoke.log")
        async with aiohttp.ClientSession() as http:
            t0 = time.perf_counter()
            chatting = [{"openid": f"oBench{i:04d}xxxxxxxxxxxxxxxxxx"} for i in range(64)]
            async with http.post(fake_base + "_sim/followers", json={"followers": chatting}):
                pass
            async with http.post(
                fake_base + "_sim/followers", json={"count": args.followers}
            ) as resp:
                seeded = await resp.json()
            print(
                f"simulator: {seeded['total']:,} followers seeded in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            proc = psutil.Process(server.pid)
            webhook = base + "wechat"
            idle = await drive("idle", webhook, args.idle, args.concurrency, b"<Content>")
            rss_before = proc.memory_info().rss / 2**20
            cpu_before = sum(proc.cpu_times()[:2])
            started = time.perf_counter()
            syncing = asyncio.create_task(run_sync(http, base))
            during = await chat_while(webhook, args.concurrency, syncing)
            first = await syncing
            first_s = time.perf_counter() - started
            cpu_s = sum(proc.cpu_times()[:2]) - cpu_before
            rss_after = proc.memory_info().rss / 2**20
            started = time.perf_counter()
            second = await run_sync(http, base)
            second_s = time.perf_counter() - started
    finally:
        server.terminate()
        fake.terminate()
        await server.wait()
        await fake.wait()
    i50, i99 = percentiles(idle.latencies)
    d50, d99 = percentiles(during.latencies)
    calls = first["api_calls"]
    print(f"\nfirst sync: {first['status']} in {first_s:.1f} s  ({first['error'] or 'no error'})")
    print(
        f"  {first['listed']:,} listed, {first['created']:,} buyers created, "
        f"{first['updated']:,} updated, {first['left']:,} left, {first['errors']:,} errors"
    )
    print(
        f"  {first['listed'] / first_s:,.0f} followers/s; server CPU {cpu_s:.1f} s; "
        f"RSS {rss_before:.0f} → {rss_after:.0f} MB"
    )
    for api, used in calls.items():
        print(f"  {api}: {used:,} calls of the daily {QUOTAS[api]:,} ({used / QUOTAS[api]:.2%})")
    print(
        f"second sync (nothing to change): {second['status']} in {second_s:.1f} s, "
        f"{second['created']} created, {second['updated']} updated, {second['left']} left"
    )
    print(f"\nwebhook, {args.concurrency} buyers in a closed loop   p50 ms   p99 ms  msg/s  errors")
    for label, (p50, p99), result in (
        ("idle", (i50, i99), idle),
        ("during the first sync", (d50, d99), during),
    ):
        print(f"  {label:<38} {p50:7.1f}  {p99:7.1f}  {result.rate:5.0f}  {result.errors}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4, help="buyers chatting meanwhile")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of webhook load alone")
    parser.add_argument("--postgres", metavar="URL", help="run on a fresh PostgreSQL database")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{args.followers:,} followers, {os.cpu_count()} CPUs, load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.postgres:
            async with fresh_postgres(args.postgres) as url:
                await bench(folder, args, url)
        else:
            await bench(folder, args, f"sqlite+aiosqlite:///{folder}/laoke.db")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
