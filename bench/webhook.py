"""Webhook benchmark: `laoke serve` on SQLite against a WeRoBot bot with SQLite sessions.

    .venv/bin/python bench/webhook.py [--duration 10] [--concurrency 16]
    .venv/bin/python bench/webhook.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/webhook.py --only laoke --login-flood 120

With ``--postgres`` it also runs `laoke serve` on a fresh database created on that server
(and dropped afterwards): the scale-out path, same load.

Both servers run as real subprocesses on loopback ports: `laoke serve` with a temporary
configuration (plain mode, SQLite in WAL mode, after `laoke db upgrade`), and
``bench/werobot_app.py``. Each is then driven the same way: `--concurrency` buyers, each a
closed loop (send, wait for the reply, send again) of signed text messages with fresh MsgIds
and a freshly signed query each (one signed query carries one body only),
for `--duration` seconds after a one-second warm-up. It prints messages/s, p50 and p99
latency, errors, whether every answered message was persisted (inbound rows for Laoke,
session counters for WeRoBot), and the idle RSS of `laoke serve` before the load.

With ``--login-flood N``, N anonymous clients sign in to the console of the same `laoke
serve` as fast as it answers, with unknown names and wrong passwords, for the whole run, while
the buyers are measured: the webhook's latency must not move. The sign-in throttle is opened
wide for it (every attempt reaches the password check, the worst case for the process), and
the flood's own figures are printed: attempts per second, how many were refused at once as
"too many" (429, no hash) and how many had their password checked (401).

The load generator is one asyncio process (uvloop) speaking just enough HTTP/1.1 over one
keep-alive connection per buyer, with requests assembled from precomputed bytes around a fresh
signed query; it shares the machine's cores with the server, so it reports its own CPU time
per request too. Every request is a valid signed WeChat POST with a fresh nonce, MsgId and
CreateTime: in plain mode WeChat signs the query, not the body, and the webhook refuses a
signed query reused with another body (``bot/inbound/nonces.py``), as it must.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postgres_database import fresh_postgres  # noqa: E402  (bench/, beside this script)

from demo.simulator.callback import CallbackSigner  # noqa: E402

TOKEN = "bench-token"
APPID = "wxbench0000000000"
ACCOUNT = "gh_bench"
# Something the bot does not recognise: Laoke answers its help text, rendered from a template.
# 会员 (the tier card): a command every buyer uses, answered from the reply path alone. What the
# bot does not understand now goes to the staff inbox, acknowledged once per conversation and
# then answered by a person, so it no longer gets a reply per message to count.
CONTENT = "会员"
# --mix: each buyer goes round these paths through the bot, one message each, so the figures
# show which path is slow: a text answered from a template (会员, 帮助), one that reads the
# campaigns (直播), and a menu click (an event: deduplicated by time and key, not MsgId).
MIX = ("会员", "直播", "帮助", "click:MEMBERSHIP")


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    answered: int = 0  # including the warm-up
    seconds: float = 0.0
    persisted: str = "?"
    error_kinds: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0  # the server's CPU time during the run (user + system)
    client_cpu_s: float = 0.0  # the load generator's own CPU time during the run
    flood: Flood | None = None  # the sign-in flood run beside it (--login-flood)
    by_path: dict[str, list[float]] = field(default_factory=dict)  # latencies per message kind

    def row(self) -> str:
        lat = sorted(self.latencies)
        rate = len(lat) / self.seconds if self.seconds else 0.0
        p50, p99 = percentiles(lat)
        sent = self.answered + self.errors
        cpu = self.cpu_s / sent * 1000 if sent else float("nan")
        client = self.client_cpu_s / sent * 1000 if sent else float("nan")
        return (
            f"{self.name:<24} {rate:>7.0f} {p50:>7.1f} {p99:>7.1f} {cpu:>8.2f} {client:>8.2f} "
            f"{self.errors:>6} {self.persisted}"
        )

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def path_rows(self) -> list[str]:
        """p50 / p99 of each path, and how far the tail is from the middle (p99 / p50)."""
        rows = []
        for path, lat in sorted(self.by_path.items()):
            p50, p99 = percentiles(sorted(lat))
            rows.append(f"  {path:<22} {len(lat):>7} {p50:>7.1f} {p99:>7.1f} {p99 / p50:>9.1f}x")
        return rows


def percentiles(lat: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms of sorted latencies in seconds."""
    if not lat:
        return float("nan"), float("nan")
    return statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_up(
    url: str, proc: asyncio.subprocess.Process, log_path: Path, wait_s: float = 30.0
) -> None:
    deadline = time.monotonic() + wait_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise SystemExit(f"server exited with {proc.returncode}; see {log_path}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


class HTTPConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that answers one request at a time.

    Just enough HTTP for a benchmark client: the status line, Content-Length (or the body up
    to EOF when there is none) and whether the server keeps the connection open. Anything
    else in the response is ignored, which keeps the client's own CPU per request small."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._answer()

    def eof_received(self) -> bool:
        self.closed = True
        self._answer()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._answer()

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def _answer(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if self.closed:
                waiter.set_exception(ConnectionResetError("closed before the response"))
            return
        head = bytes(buffer[:end]).lower()
        start = head.find(b"\ncontent-length:")
        if start >= 0:
            stop = head.find(b"\r", start + 16)
            length = int(head[start + 16 : stop if stop >= 0 else None])
            if len(buffer) < end + 4 + length:
                if self.closed:
                    waiter.set_exception(ConnectionResetError("closed inside the body"))
                return
        elif self.closed:
            length = len(buffer) - end - 4
        else:
            return
        body = bytes(buffer[end + 4 : end + 4 + length])
        del buffer[: end + 4 + length]
        keep = b"\nconnection: close" not in head and (
            head.startswith(b"http/1.1") or b"\nconnection: keep-alive" in head
        )
        waiter.set_result((int(head[9:12]), body, keep))


def request_parts(
    url: str, openid: str, signer: CallbackSigner
) -> tuple[str, int, Callable[[], bytes]]:
    """Host, port and a maker of the head of a freshly signed POST for `openid` (up to
    Content-Length)."""
    parsed = urlsplit(url)
    before = f"POST {parsed.path or '/'}?".encode()
    after = (
        f"&openid={openid} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
        "Content-Type: text/xml\r\nContent-Length: "
    ).encode()

    def head() -> bytes:
        return before + urlencode(signer.query()).encode() + after

    return parsed.hostname or "127.0.0.1", parsed.port or 80, head


def message_xml(openid: str, path: str, seq: int, msg_id: int) -> bytes:
    """One message of `path` (a text, or ``click:KEY``) from `openid`. A click has no MsgId:
    WeChat's retries of an event share CreateTime, so each click gets its own second."""
    head = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
    )
    if path.startswith("click:"):
        return (
            f"{head}<CreateTime>{int(time.time()) + seq}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
            f"<EventKey><![CDATA[{path[6:]}]]></EventKey></xml>"
        ).encode()
    return (
        f"{head}<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{path}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


async def drive(
    name: str,
    url: str,
    duration: float,
    concurrency: int,
    expect: bytes,
    paths: tuple[str, ...] = (),
) -> Result:
    """Closed-loop load: `concurrency` buyers, each waiting for its reply before sending again.

    Each buyer keeps one HTTP/1.1 connection (reopened when the server closes it, as WeRoBot's
    HTTP/1.0 server does after every answer). Requests are assembled from precomputed bytes:
    the head around a freshly signed query (a signed query carries one body only) and the
    XML around CreateTime and MsgId, which are fresh in every message."""
    signer = CallbackSigner(TOKEN, APPID)
    result = Result(name)
    loop = asyncio.get_running_loop()
    msg_ids = iter(range(10**15 + int(time.time() * 1000) * 1000, 10**18))
    content = CONTENT.encode()
    cpu_before = time.process_time()
    start = loop.time()
    measure_from = start + 1.0
    stop = measure_from + duration

    async def buyer(i: int) -> None:
        openid = f"oBench{i:04d}xxxxxxxxxxxxxxxxxx"
        host, port, head = request_parts(url, openid, signer)
        before_time = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>"
        ).encode()
        before_msg_id = (
            b"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
            + content
            + b"]]></Content><MsgId>"
        )
        conn: HTTPConnection | None = None
        seq = 0
        while (now := loop.time()) < stop:
            path = paths[(i + seq) % len(paths)] if paths else CONTENT
            seq += 1
            if paths:  # the mix: built per message (its cost shows in `client`)
                body = message_xml(openid, path, seq, next(msg_ids))
            else:
                body = b"".join(
                    (
                        before_time,
                        b"%d" % time.time(),
                        before_msg_id,
                        b"%d" % next(msg_ids),
                        b"</MsgId></xml>",
                    )
                )
            t0 = time.perf_counter()
            try:
                if conn is None or conn.closed:
                    _, conn = await loop.create_connection(HTTPConnection, host, port)
                status, answer, keep = await conn.request(
                    b"%s%d\r\n\r\n%s" % (head(), len(body), body)
                )
                if not keep:
                    conn.transport.close()  # type: ignore[union-attr]
                    conn = None
                ok = status == 200 and expect in answer
                if not ok:
                    result.error_kinds[f"HTTP {status}" + ("" if answer else " empty")] += 1
            except OSError as exc:
                ok, conn = False, None
                result.error_kinds[type(exc).__name__] += 1
            elapsed = time.perf_counter() - t0
            if not ok:
                result.errors += 1
                continue
            result.answered += 1
            if now >= measure_from:
                result.latencies.append(elapsed)
                result.by_path.setdefault(path, []).append(elapsed)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    await asyncio.gather(*(buyer(i) for i in range(concurrency)))
    result.seconds = loop.time() - measure_from
    result.client_cpu_s = time.process_time() - cpu_before
    return result


@dataclass
class Flood:
    """What the sign-in flood did: attempts by answer."""

    clients: int
    answers: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def row(self) -> str:
        sent = sum(self.answers.values())
        rate = sent / self.seconds if self.seconds else 0.0
        busy, checked = self.answers["busy"], self.answers["checked"]
        other = {k: v for k, v in self.answers.items() if k not in ("busy", "checked")}
        return (
            f"login flood: {self.clients} clients, {rate:.0f} attempts/s; "
            f"{checked} passwords checked (401), {busy} refused at once as too many (429)"
            + (f", other: {other}" if other else "")
        )


async def login_flood(base_url: str, clients: int, until: float) -> Flood:
    """`clients` anonymous sign-ins in closed loops until the loop time `until`."""
    flood = Flood(clients)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def client(i: int) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(base_url + "/admin/login") as resp:
                page = await resp.text()
            marker = 'name="csrf_token" value="'
            start = page.index(marker) + len(marker)
            csrf = page[start : page.index('"', start)]
            n = 0
            while loop.time() < until:
                n += 1
                form = {"name": f"flood{i}-{n}", "password": "wrong-password-1", "csrf_token": csrf}
                try:
                    async with http.post(
                        base_url + "/admin/login", data=form, allow_redirects=False
                    ) as resp:
                        text = await resp.text()
                except aiohttp.ClientError as exc:
                    flood.answers[type(exc).__name__] += 1
                    continue
                if resp.status == 401:
                    flood.answers["checked"] += 1
                elif resp.status in (429, 503) and "登录请求过多" in text:
                    flood.answers["busy"] += 1
                else:
                    flood.answers[f"HTTP {resp.status}"] += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    flood.seconds = loop.time() - started
    return flood


def write_config(folder: Path, port: int, db_url: str, *, login_flood: bool = False) -> Path:
    path = folder / "laoke.toml"
    # Flooding: every attempt reaches the password check (the throttle would stop most).
    console = (
        "[console]\nlogin_failures_per_account = 1000000\nlogin_failures_per_address = 1000000\n"
        if login_flood
        else ""
    )
    path.write_text(
        console
        + f"""
[server]
host = "127.0.0.1"
port = {port}
spool_dir = "{folder / "spool"}"
run_senders = false
run_scheduler = false

[wechat]
appid = "{APPID}"
secret = "bench-secret"
token = "{TOKEN}"
encrypt_mode = "plain"
api_base_url = "http://127.0.0.1:9/"

[database]
url = "{db_url}"
""",
        encoding="utf-8",
    )
    return path


def laoke_command() -> list[str]:
    exe = Path(sys.executable).parent / "laoke"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "laoke.cli"]


async def stored_counts(db_url: str) -> tuple[int, int]:
    """Inbound messages done and passive replies stored, read back after the run."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            stored = await conn.scalar(
                text("SELECT count(*) FROM inbound_messages WHERE status = 'done'")
            )
            replies = await conn.scalar(
                text("SELECT count(*) FROM outbound_messages WHERE channel = 'reply'")
            )
    finally:
        await engine.dispose()
    return stored, replies


async def bench_laoke(
    folder: Path,
    duration: float,
    concurrency: int,
    db_url: str | None = None,
    flood_clients: int = 0,
    paths: tuple[str, ...] = (),
) -> tuple[Result, float]:
    port = free_port()
    label = "laoke serve (PostgreSQL)" if db_url else "laoke serve (SQLite)"
    if flood_clients:
        label += " +login flood"
    db_url = db_url or f"sqlite+aiosqlite:///{folder}/laoke.db"
    config = write_config(folder, port, db_url, login_flood=bool(flood_clients))
    upgrade = await asyncio.create_subprocess_exec(
        *laoke_command(), "db", "upgrade", "-c", str(config), stdout=asyncio.subprocess.DEVNULL
    )
    if await upgrade.wait():
        raise SystemExit("laoke db upgrade failed")
    log = (folder / "laoke.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *laoke_command(), "serve", "-c", str(config), stdout=log, stderr=log
    )
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, folder / "laoke.log")
        await asyncio.sleep(1.0)
        server = psutil.Process(proc.pid)
        idle_rss = server.memory_info().rss / 2**20
        cpu_before = sum(server.cpu_times()[:2])
        flood = None
        if flood_clients:  # started first, so the whole measured run is under the flood
            until = asyncio.get_running_loop().time() + 1.5 + duration
            flood = asyncio.create_task(
                login_flood(f"http://127.0.0.1:{port}", flood_clients, until)
            )
            await asyncio.sleep(0.5)
        result = await drive(
            label,
            f"http://127.0.0.1:{port}/wechat",
            duration,
            concurrency,
            b"<Content>",
            paths,
        )
        result.cpu_s = sum(server.cpu_times()[:2]) - cpu_before
        if flood is not None:
            result.flood = await flood
    finally:
        proc.terminate()
        await proc.wait()
    stored, replies = await stored_counts(db_url)
    ok = stored == result.answered and replies == result.answered
    result.persisted = (
        f"{'yes' if ok else 'NO'} ({stored} inbound, {replies} replies stored, "
        f"{result.answered} answered)"
    )
    return result, idle_rss


async def bench_werobot(folder: Path, duration: float, concurrency: int) -> Result:
    port = free_port()
    session_file = folder / "werobot_session.sqlite3"
    log = (folder / "werobot.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "werobot_app.py"),
        str(port),
        TOKEN,
        str(session_file),
        stdout=log,
        stderr=log,
    )
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/", proc, folder / "werobot.log")
        server = psutil.Process(proc.pid)
        cpu_before = sum(server.cpu_times()[:2])
        result = await drive(
            "WeRoBot + SQLiteStorage",
            f"http://127.0.0.1:{port}/",
            duration,
            concurrency,
            "条消息".encode(),
        )
        result.cpu_s = sum(server.cpu_times()[:2]) - cpu_before
    finally:
        proc.terminate()
        await proc.wait()
    with sqlite3.connect(session_file) as db:
        counted = sum(
            json.loads(v).get("messages", 0) for (v,) in db.execute("SELECT value FROM WeRoBot")
        )
    # A request the client gave up on may still have been counted by the server.
    ok = result.answered <= counted <= result.answered + result.errors
    result.persisted = (
        f"{'yes' if ok else 'NO'} ({counted} counted in sessions, {result.answered} answered)"
    )
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per server")
    parser.add_argument("--concurrency", type=int, default=16, help="buyers in the closed loop")
    parser.add_argument("--only", choices=("laoke", "werobot"), help="run one side only")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run laoke on a fresh database on this PostgreSQL server (postgresql+asyncpg://…)",
    )
    parser.add_argument(
        "--login-flood",
        type=int,
        default=0,
        metavar="N",
        help="N concurrent anonymous console sign-ins during laoke's run (docs: the module)",
    )
    parser.add_argument(
        "--mix",
        action="store_true",
        help="laoke: each buyer goes round " + ", ".join(MIX) + "; p50/p99 per path",
    )
    args = parser.parse_args()
    paths = MIX if args.mix else ()
    print(
        f"{args.concurrency} buyers, closed loop, {args.duration:.0f} s each, "
        f"{os.cpu_count()} CPUs (load generator shares them)"
    )
    with tempfile.TemporaryDirectory(prefix="laoke-bench-") as tmp:
        folder = Path(tmp)
        results, idle_rss = [], None
        if args.only != "werobot":
            laoke, idle_rss = await bench_laoke(
                folder, args.duration, args.concurrency, flood_clients=args.login_flood,
                paths=paths,
            )  # fmt: skip
            results.append(laoke)
            if args.postgres:
                async with fresh_postgres(args.postgres) as pg_url:
                    pg_folder = folder / "postgres"
                    pg_folder.mkdir()
                    pg, _ = await bench_laoke(
                        pg_folder, args.duration, args.concurrency, pg_url, paths=paths
                    )
                    results.append(pg)
        if args.only != "laoke":
            results.append(await bench_werobot(folder, args.duration, args.concurrency))
    print(
        f"{'server':<24} {'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>8} {'client':>8} "
        f"{'errors':>6} persisted"
    )
    print("(CPU ms: the server's CPU time per request; client: the load generator's, ms)")
    for result in results:
        print(result.row())
    for result in results:
        if result.by_path and not result.name.startswith("WeRoBot"):
            print(f"{result.name}, per path:")
            print(f"  {'path':<22} {'count':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99/p50':>10}")
            print("\n".join(result.path_rows()))
    for result in results:
        if result.error_kinds:
            print(f"{result.name} errors: {dict(result.error_kinds)}")
        if result.flood is not None:
            print(result.flood.row())
    if idle_rss is not None:
        print(f"laoke serve idle RSS: {idle_rss:.0f} MB")
    werobot = [r for r in results if r.name.startswith("WeRoBot")]
    if werobot and werobot[0].rate and results[0] is not werobot[0]:
        print(f"laoke / WeRoBot throughput: {results[0].rate / werobot[0].rate:.2f}x")


if __name__ == "__main__":
    try:  # a cheaper load generator leaves more of the machine to the servers under test
        import uvloop
    except ImportError:
        uvloop = None
    (uvloop.run if uvloop else asyncio.run)(main())
