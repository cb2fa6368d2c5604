"""Campaign benchmark: fan-out and delivery to N buyers against the WeChat simulator.

    python bench/campaign.py              # 100,000 buyers, no latency, then 30 ms latency
    python bench/campaign.py --full       # 1,000,000 buyers (takes several minutes)
    python bench/campaign.py --buyers 20000 --latency-ms 30 --only

The simulator (``laoke fake-wechat --open-windows``) runs in its own process, as WeChat would
be remote; the engine runs here exactly as ``serve``/``worker`` run it (scheduler tick, then
the sender's batches) on a fresh SQLite database. Beside it, the plain loop people write with
wechatpy (``WeChatClient.message.send_text`` one call after another) is timed on a sample and
extrapolated. Targets (issue 5): 100k in < 40 s; >= 3,000 msg/s at 30 ms latency;
1M in < 8 min with peak memory < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APPID, SECRET = "wxbench0000000001", "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "bot.cli",
        "fake-wechat",
        "--port",
        str(port),
        "--open-windows",
        "--appid",
        APPID,
        "--secret",
        SECRET,
        "--latency-ms",
        str(latency_ms),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "_sim/stats", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the simulator did not start")


def sim_stats(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url + "_sim/stats", timeout=5).read())


def sim_token(url: str) -> str:
    return json.loads(
        urllib.request.urlopen(
            f"{url}cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        ).read()
    )["access_token"]


async def raw_http(url: str, token: str, calls: int, concurrency: int = 64) -> float:
    """Messages/s of bare concurrent aiohttp POSTs: no token logic, no database, no bookkeeping."""
    import aiohttp

    todo = list(range(calls))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            while todo:
                i = todo.pop()
                body = {"touser": f"raw{i}", "msgtype": "text", "text": {"content": "直播提醒"}}
                async with http.post(
                    url + "cgi-bin/message/custom/send", params={"access_token": token}, json=body
                ) as resp:
                    await resp.json(content_type=None)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return calls / (time.perf_counter() - started)


def wechatpy_loop(url: str, calls: int) -> float:
    """Messages/s of a plain wechatpy send_text loop (token pre-seeded: its token URL is fixed)."""
    from wechatpy import WeChatClient

    token = sim_token(url)
    client = WeChatClient(APPID, SECRET)
    client.API_BASE_URL = url + "cgi-bin/"
    client.session.set(f"{APPID}_access_token", token)
    client.session.set(f"{APPID}_access_token_expires_at", int(time.time()) + 7000)
    client.expires_at = int(time.time()) + 7000
    started = time.perf_counter()
    for i in range(calls):
        client.message.send_text(f"plain{i}", "直播提醒")
    return calls / (time.perf_counter() - started)


def seed_buyers(path: Path, buyers: int, now) -> None:
    """Insert buyers with plain sqlite3 from a generator: constant memory, not part of the figures."""
    import sqlite3

    fmt = "%Y-%m-%d %H:%M:%S.%f"  # how bot.models.UTCDateTime stores naive UTC on SQLite
    first_seen = (now - timedelta(days=90)).strftime(fmt)
    last = (now - timedelta(hours=1)).strftime(fmt)
    rows = ((f"oBench{i:08d}", first_seen, last, "老板") for i in range(buyers))
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO buyers (openid, subscribed, first_seen_at, last_interaction_at, "
            "opted_out, tags, channels, interests, orders_12m, spend_12m, orders_total, "
            "display_name) VALUES (?, 1, ?, ?, 0, '[]', '[]', '[\"女装\"]', 0, 0.0, 0, ?)",
            rows,
        )
    con.close()


async def run_workers(workdir: Path, config, workers: int, sm) -> tuple[float, float]:
    """Send with `workers` real ``laoke worker`` processes; wait until nothing is left to send.

    Returns their CPU seconds and the largest RSS seen (MB).
    """
    import psutil
    from sqlalchemy import func, select

    from scheduler.models import CLAIMED, PENDING, Delivery

    path = workdir / "worker.toml"
    w, c = config.wechat, config.campaigns
    path.write_text(
        f"""[wechat]
appid = "{w.appid}"
secret = "{w.secret}"
token = "t"
api_base_url = "{w.api_base_url}"
busy_retries = 0
[database]
url = "{config.database.url}"
[campaigns]
rate_limit_per_s = {c.rate_limit_per_s}
concurrency = {c.concurrency}
batch_size = {c.batch_size}
cap_per_day = 0
cap_per_week = 0
""",
        encoding="utf-8",
    )
    procs = [
        psutil.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "-c", str(path)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    rss = 0.0
    try:
        while True:
            await asyncio.sleep(0.5)
            rss = max([rss] + [p.memory_info().rss / 2**20 for p in procs])
            async with sm() as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status.in_((PENDING, CLAIMED)))
                )
            if not left:
                break
        cpu = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    return cpu, rss


async def run_engine(url: str, buyers: int, workdir: Path, workers: int = 0) -> dict:
    from datetime import UTC, datetime

    import aiohttp
    from sqlalchemy import func, select

    from bot.clock import Clock
    from bot.config import parse_config
    from bot.context import Services
    from bot.database import create_engine, sessionmaker, upgrade
    from bot.metrics import Metrics
    from bot.rendering import Renderer
    from bot.wechat_api import WeChatAPI
    from scheduler.campaigns import create_campaign, schedule_campaign
    from scheduler.loop import CampaignScheduler
    from scheduler.models import Delivery
    from scheduler.sender import Sender

    db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(upgrade, db_url)
    config = parse_config(
        {
            "wechat": {
                "appid": APPID,
                "secret": SECRET,
                "token": "t",
                "api_base_url": url,
                "busy_retries": 0,
                "timeout_s": 10,
            },
            "database": {"url": db_url},
            "campaigns": {
                "rate_limit_per_s": 1_000_000.0,
                "concurrency": 400,
                "batch_size": 2000,
                "cap_per_day": 0,
                "cap_per_week": 0,
            },
        },
        env={},
    )
    engine = create_engine(config.database)
    sm = sessionmaker(engine)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    await asyncio.to_thread(seed_buyers, workdir / "bench.db", buyers, now)
    seeded_s = time.perf_counter() - t0

    clock = Clock()
    connector = aiohttp.TCPConnector(limit=config.campaigns.concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        metrics = Metrics()
        api = WeChatAPI(config.wechat, sm, clock, http, metrics)
        services = Services(config, Renderer(), api, clock, metrics)
        await api.get_access_token()
        async with sm() as session, session.begin():
            campaign = await create_campaign(
                session,
                {
                    "kind": "broadcast",
                    "name": "bench",
                    "send_at": now.isoformat(),
                    "text": "春季新款上架，回复“退订”不再接收。",
                },
                clock,
            )
            await schedule_campaign(session, campaign.id, clock)
        started, cpu_started = time.perf_counter(), time.process_time()
        await CampaignScheduler(sm, services, holder="scheduler:bench").tick()
        fanned = time.perf_counter()
        if workers:
            cpu_used_workers, worker_rss = await run_workers(workdir, config, workers, sm)
        else:
            # Two senders in one process overlap one's database work with the other's HTTP.
            senders = [
                Sender(sm, services, worker_id=f"sender:bench{i}")
                for i in range(int(os.environ.get("BENCH_SENDERS", "2")))
            ]

            async def drain(sender: Sender) -> None:
                while await sender.run_once():
                    pass

            await asyncio.gather(*(drain(s) for s in senders))
            cpu_used_workers, worker_rss = 0.0, 0.0
        finished = time.perf_counter()
        cpu_used = time.process_time() - cpu_started + cpu_used_workers
        async with sm() as session:
            counts = dict(
                (
                    await session.execute(
                        select(Delivery.status, func.count()).group_by(Delivery.status)
                    )
                ).all()
            )
    await engine.dispose()
    sent = counts.get("sent", 0)
    return {
        "buyers": buyers,
        "seed_s": seeded_s,
        "fan_out_s": fanned - started,
        "total_s": finished - started,
        "rate": sent / (finished - started),
        "cpu_ms_per_msg": 1000 * cpu_used / max(sent, 1),
        "counts": counts,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": worker_rss,
    }


def event_loop_runner():
    """uvloop when installed (as `laoke worker` uses it), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run, "asyncio"
    return uvloop.run, "uvloop"


def scenario(buyers: int, latency_ms: float, plain_calls: int, workers: int = 0) -> None:
    proc, url = start_simulator(latency_ms)
    run, loop_name = event_loop_runner()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(run_engine(url, buyers, Path(tmp), workers))
        received = sim_stats(url)
        raw = run(
            raw_http(
                url,
                sim_token(url),
                5000 if not latency_ms else 20000,
                64 if not latency_ms else 400,
            )
        )
        plain = wechatpy_loop(url, plain_calls)
    finally:
        proc.terminate()
        proc.wait(10)
    senders = f"{workers} `laoke worker` processes" if workers else "2 senders in-process"
    print(f"\n== {buyers:,} buyers, simulator latency {latency_ms:g} ms, {loop_name}, {senders} ==")
    print(f"  seeding buyers (not timed):  {result['seed_s']:.1f} s")
    print(f"  fan-out (INSERT … SELECT):   {result['fan_out_s']:.2f} s")
    print(
        f"  campaign total:              {result['total_s']:.1f} s  ({result['rate']:,.0f} msg/s)"
    )
    print(
        f"  engine CPU per message:      {result['cpu_ms_per_msg']:.2f} ms "
        "(wall-clock rates depend on what else the machine runs)"
    )
    print(f"  deliveries by status:        {result['counts']}")
    print(f"  simulator stats:             {received}")
    print(f"  peak memory (this process):  {result['peak_rss_mb']:.0f} MB")
    if workers:
        print(f"  peak memory (each worker):   {result['worker_rss_mb']:.0f} MB")
    print(f"  bare aiohttp POSTs (ceiling): {raw:,.0f} msg/s (same event loop, no bookkeeping)")
    print(
        f"  plain wechatpy loop:         {plain:,.0f} msg/s over {plain_calls:,} calls "
        f"→ {buyers / plain:,.0f} s for {buyers:,} (extrapolated)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buyers", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument(
        "--only", action="store_true", help="run one scenario: --buyers, --latency-ms"
    )
    parser.add_argument("--full", action="store_true", help="1,000,000 buyers, no latency")
    parser.add_argument(
        "--workers", type=int, default=0, help="send with N `laoke worker` processes"
    )
    args = parser.parse_args()
    # SIGTERM runs the `finally` that stops the simulator process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if args.full:
        scenario(1_000_000, 0, 2000, args.workers)
    elif args.only:
        plain_calls = 2000 if not args.latency_ms else 100
        scenario(args.buyers, args.latency_ms, plain_calls, args.workers)
    else:
        scenario(args.buyers, 0, 2000, args.workers)
        scenario(args.buyers, args.latency_ms, 100, args.workers)


if __name__ == "__main__":
    main()
