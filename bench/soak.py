"""The soak: a production-shaped installation under mixed load, with crashes, and the proof.

Real nginx (Debian's package, installed if missing) runs deploy/nginx/laoke.conf in front of
two `laoke serve` processes; two `laoke worker`s send; PostgreSQL holds everything; the WeChat
simulator answers with faults (busy, frequency limit, expired tokens). At the same time: buyers
chat (bench/soak_load.py; a tenth of WeChat's retries reach the other process), a broadcast to
every seeded buyer sends, an order import runs, staff browse the console and read the report.
Early in the load it SIGKILLs the serve process holding the scheduler lease and a worker in
mid-send, and restarts them. A backup is taken during the load and restored afterwards into a new database, where
every message it holds must be answered as before.

It prints its figures and exits 1 when: a message is answered twice or differently, or never
stored; a delivery is sent twice; more deliveries are uncertain than the killed worker had in
flight, or any is left unsent; the webhook's p99 through nginx passes 4.5 s (WeChat gives up at
5 s); the scheduler takes over 60 s to move; the restored backup answers a message differently.

    .venv/bin/python bench/soak.py --short     # 10,000 buyers, 45 s of load: about 3 minutes
    .venv/bin/python bench/soak.py             # 100,000 buyers, 10 minutes of load
    (--postgres URL: a server to create the throwaway databases on)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nginx_local  # noqa: E402  (bench/, beside this script)
import soak_load  # noqa: E402
from postgres_database import fresh_postgres  # noqa: E402
from soak_processes import Installation  # noqa: E402

CAMPAIGN_TEXT = "老客福利：春季新款已上架，回复 会员 查看您的专属价"


async def seed(db_url: str, buyers: int) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    now = datetime.now(UTC).replace(tzinfo=None)
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO buyers (openid, subscribed, first_seen_at, last_interaction_at, "
                "opted_out, tags, channels, interests, orders_12m, spend_12m, orders_total, "
                "display_name) SELECT 'oSoak' || lpad(i::text, 7, '0'), true, :first, :last, "
                "false, '[]', '[]', '[]', 0, 0, 0, '老板' FROM generate_series(0, :n - 1) AS i"
            ),
            {"first": now - timedelta(days=90), "last": now - timedelta(hours=1), "n": buyers},
        )
        await conn.execute(text("ANALYZE buyers"))
    await engine.dispose()


async def query(db_url: str, sql: str, **params) -> list:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def start_campaign(api: str, token: str) -> int:
    auth = {"Authorization": f"Bearer {token}"}
    body = {"name": "soak", "send_at": datetime.now(UTC).isoformat(), "text": CAMPAIGN_TEXT}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(api + "api/campaigns/broadcasts", json=body, ssl=False) as resp:
            created = await resp.json()
        async with http.post(f"{api}api/campaigns/{created['id']}/schedule", ssl=False) as resp:
            await resp.read()
    return created["id"]


async def import_orders(api: str, token: str, rows: int) -> tuple[int, float]:
    day = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    body = {
        "rows": [
            {"order_no": f"SOAK{i:07d}", "account": f"oSoak{i % 5000:07d}",
             "amount": 100 + i % 900, "created_at": day, "status": "已完成"}
            for i in range(rows)
        ],
        "recompute": True,
    }  # fmt: skip
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post(api + "api/orders", json=body, ssl=False) as resp:
            await resp.read()
            return resp.status, time.perf_counter() - started


async def leader_pid(db_url: str) -> int | None:
    rows = await query(
        db_url, "SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > :now",
        now=datetime.now(UTC).replace(tzinfo=None),
    )  # fmt: skip
    return int(rows[0][0].split(":")[2]) if rows else None


async def crashes(inst: Installation, db_url: str, at_s: float, figures: dict) -> None:
    """SIGKILL the serve process holding the scheduler lease and a worker mid-send, restart
    them two seconds later, and time until another process schedules."""
    await asyncio.sleep(at_s)
    leader = await leader_pid(db_url)
    leading = next((s for s in inst.serves if s.pid == leader), inst.serves[0])
    worker = inst.workers[0]
    figures["killed (SIGKILL)"] = (
        f"{leading.name} (scheduler leader: {leading.pid == leader}), {worker.name}"
    )
    killed_at = time.monotonic()
    figures["_killed worker pid"] = worker.pid
    inst.kill(leading)
    inst.kill(worker)
    await asyncio.sleep(2)
    await asyncio.gather(inst.restart(leading), inst.restart(worker))
    figures["back up after s"] = round(time.monotonic() - killed_at, 1)
    while time.monotonic() - killed_at < 120:
        now_leader = await leader_pid(db_url)
        if now_leader is not None and now_leader != leader:
            figures["scheduler failover s"] = round(time.monotonic() - killed_at, 1)
            return
        await asyncio.sleep(0.5)
    figures["scheduler failover s"] = None


async def backup_during(inst: Installation, at_s: float, chat: soak_load.Chat) -> dict:
    await asyncio.sleep(at_s)
    before = dict(chat.log.replies)
    done = await inst.laoke("backup", "-o", str(inst.work / "during.dump"))
    return {"ok": done.returncode == 0, "answered before": before, "output": done.stdout}


async def settle(db_url: str, campaign_id: int, timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await query(
            db_url, "SELECT status, count(*) FROM deliveries WHERE campaign_id = :c GROUP BY status",
            c=campaign_id,
        )  # fmt: skip
        counts = dict(rows)
        if not any(counts.get(s) for s in ("pending", "claimed", "sending")):
            return counts
        if time.monotonic() > deadline:
            return counts
        await asyncio.sleep(2)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def restored_answers(inst: Installation, server_url: str, backup: Path,
                           answered: dict[int, tuple[str, str | None]]) -> tuple[int, list[int]]:  # fmt: skip
    """Restore the backup into a new database, serve it, and resend every message it holds."""
    async with fresh_postgres(server_url) as restored_url:
        replica = inst.replica_config(restored_url)
        done = await inst.laoke("restore", str(backup), config=replica)
        if done.returncode != 0:
            return 0, [("restore failed", done.stderr.strip(), None)]
        # A message still being handled when the backup was taken (its reply not stored yet,
        # WeChat answered `success`) is handled anew by the restored database: not compared.
        stored = {int(k.rsplit("|", 1)[1]) for (k,) in await query(
            restored_url,
            "SELECT dedup_key FROM inbound_messages WHERE dedup_key LIKE '%|m|%' "
            "AND status <> 'processing'",
        )}  # fmt: skip
        serve = await inst.start_serve_on(replica)
        differ = []
        lanes = asyncio.Semaphore(8)
        try:
            async with aiohttp.ClientSession() as http:
                chat = soak_load.Chat(inst.signer, serve, [serve], 0)

                async def resend(msg_id: int, openid: str, reply: str | None) -> None:
                    async with lanes:
                        ok, again = await chat.deliver(http, openid, "重发", msg_id, serve)
                    if not ok or again != reply:
                        differ.append((msg_id, reply, again))

                await asyncio.gather(*(
                    resend(m, openid, reply)
                    for m, (openid, reply) in answered.items() if m in stored
                ))  # fmt: skip
        finally:
            inst.kill(inst.extra.pop())
        return len([m for m in answered if m in stored]), differ


async def soak(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="laoke-soak-"))
    duration = args.duration or (45 if args.short else 600)
    buyers = args.buyers or (10_000 if args.short else 100_000)
    figures: dict = {}
    began = time.monotonic()
    async with fresh_postgres(args.postgres) as db_url:
        inst = Installation(work, db_url)
        await inst.prepare()
        await seed(db_url, buyers)
        password = await inst.staff_account()
        try:
            await inst.start()
            figures["setup s"] = round(time.monotonic() - began, 1)
            memory_start = inst.memory()
            stop = asyncio.Event()
            chat = soak_load.Chat(inst.signer, inst.nginx_http, inst.serve_urls, args.chatters)
            staff_log = soak_load.StaffLog()
            campaign: asyncio.Future = asyncio.get_running_loop().create_future()
            load = [
                asyncio.create_task(chat.run(stop)),
                asyncio.create_task(soak_load.staff(inst.nginx_https, "soak", password,
                                                    inst.api_token, campaign, stop, staff_log)),
                asyncio.create_task(soak_load.faults(inst.sim, stop, 10)),
            ]  # fmt: skip
            campaign.set_result(await start_campaign(inst.nginx_https, inst.api_token))
            orders = asyncio.create_task(import_orders(inst.nginx_https, inst.api_token, 5000))
            crash = asyncio.create_task(crashes(inst, db_url, duration * 0.2, figures))
            backup = asyncio.create_task(backup_during(inst, duration * 0.6, chat))
            await asyncio.sleep(duration)
            stop.set()
            faults_injected = (await asyncio.gather(*load))[2]
            await crash
            backup_result = await backup
            order_status, order_s = await orders
            settling = time.monotonic()
            counts = await settle(db_url, campaign.result(), 60 if args.short else 300)
            figures["settle s"] = round(time.monotonic() - settling, 1)
            memory_end = inst.memory()
            sim_log = await inst.sim_messages()
            checking = time.monotonic()
            restored, differ = await restored_answers(
                inst, args.postgres, work / "during.dump", backup_result["answered before"]
            )
            figures["restore check s"] = round(time.monotonic() - checking, 1)
        finally:
            inst.stop_all()
        stored = {int(k.rsplit("|", 1)[1]) for (k,) in await query(
            db_url, "SELECT dedup_key FROM inbound_messages WHERE dedup_key LIKE '%|m|%'"
        )}  # fmt: skip
        deferred = await query(db_url, "SELECT count(*) FROM inbound_messages WHERE deferred")
        deferred = deferred[0][0]
        # Only the killed worker had sends in flight: every uncertain delivery must be one of
        # its own (the claim keeps the sender's id, role:host:pid:suffix).
        killed_pid = figures.pop("_killed worker pid", None)
        uncertain_elsewhere = (await query(
            db_url,
            "SELECT count(*) FROM deliveries WHERE status = 'uncertain' "
            "AND claimed_by NOT LIKE :killed",
            killed=f"%:{killed_pid}:%",
        ))[0][0]  # fmt: skip
    # -- figures and verdict ----------------------------------------------------------------
    sends = Counter(m["openid"] for m in sim_log if CAMPAIGN_TEXT in (m.get("content") or ""))
    # Customer-service sends to chatting buyers other than the campaign (they are buyers when
    # it fans out): only deferred replies may produce them.
    chat_cs_log = [
        m for m in sim_log
        if m["openid"].startswith("oSoakChat") and CAMPAIGN_TEXT not in (m.get("content") or "")
    ]  # fmt: skip
    chat_cs = len(chat_cs_log)
    never_stored = [m for m in chat.log.replies if m not in stored]
    unsent = sum(counts.get(s, 0) for s in ("pending", "claimed", "sending"))
    uncertain = counts.get("uncertain", 0)
    lat = chat.log.latencies
    figures.update({
        "buyers": buyers, "load s": duration, "messages answered": len(chat.log.replies),
        "retries at the other process": chat.log.retried_elsewhere,
        "webhook p50 ms": round(sorted(lat)[len(lat) // 2] * 1000, 1) if lat else None,
        "webhook p99 ms": round(p99(lat) * 1000, 1),
        "failed tries (retried as WeChat does)": chat.log.failed_tries,
        "deferred replies": deferred, "customer-service sends to chatting buyers": chat_cs,
        "deliveries": dict(counts), "uncertain not the killed worker's": uncertain_elsewhere,
        "deliveries sent twice": sum(1 for n in sends.values() if n > 1),
        "order import": f"HTTP {order_status} in {order_s:.1f} s",
        "console sign-in s": staff_log.sign_in_s, "console pages": staff_log.pages,
        "console page p50/max s": (
            f"{sorted(staff_log.page_s)[len(staff_log.page_s) // 2]:.2f}/{max(staff_log.page_s):.2f}"
            if staff_log.page_s else None
        ), "console errors": staff_log.page_errors[:5],
        "reports read": staff_log.reports, "faults injected": faults_injected,
        "backup": backup_result["output"].strip(), "restored messages resent": restored,
        "memory MB at start": memory_start, "memory MB at end": memory_end,
    })  # fmt: skip
    for key, value in figures.items():
        print(f"{key:42} {value}")
    failures = []
    if chat.log.mismatched:
        failures.append(f"{len(chat.log.mismatched)} retries answered differently")
    if chat.log.lost or never_stored:
        failures.append(f"{len(chat.log.lost)} messages unanswered, {len(never_stored)} not stored")
    if chat_cs > deferred:
        failures.append(
            f"{chat_cs} customer-service replies for {deferred} deferred messages: "
            + ", ".join(f"{m['openid']} {m.get('content')!r:.40}" for m in chat_cs_log[:6])
        )
    if figures["deliveries sent twice"]:
        failures.append("deliveries sent twice")
    if uncertain > inst.config_concurrency or unsent:
        failures.append(
            f"{uncertain} uncertain (at most {inst.config_concurrency}), {unsent} unsent"
        )
    if p99(lat) > 4.5:
        failures.append("webhook p99 above 4.5 s")
    if not figures.get("scheduler failover s") or figures["scheduler failover s"] > 60:
        failures.append("the scheduler did not move to another process within 60 s")
    if not backup_result["ok"] or differ:
        failures.append(
            f"restored backup: {len(differ)} messages answered differently {differ[:3]}"
        )
    if not staff_log.pages or len(staff_log.page_errors) > 0.05 * staff_log.pages:
        failures.append(f"console: {staff_log.pages} pages, errors {staff_log.page_errors[:3]}")
    if failures:
        print(f"{'logs kept in':42} {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'total s':42} {time.monotonic() - began:.0f}")
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="10,000 buyers, 45 s of load")
    parser.add_argument("--duration", type=int, default=0, help="seconds of load")
    parser.add_argument("--buyers", type=int, default=0, help="buyers the campaign reaches")
    parser.add_argument("--chatters", type=int, default=8, help="buyers chatting at once")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LAOKE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server URL (throwaway databases are created on it)",
    )
    args = parser.parse_args()
    if nginx_local.nginx_binary() is None:  # Debian's package, as docs/deployment.md installs it
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
