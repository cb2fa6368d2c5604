"""The processes of bench/soak.py's installation: the WeChat simulator, two `laoke serve`, two
`laoke worker`, nginx with deploy/nginx/laoke.conf; started, SIGKILLed, restarted, measured.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nginx_local
import psutil

from bot.config import load_config
from demo.simulator.callback import CallbackSigner

ROOT = Path(__file__).resolve().parent.parent
APPID, SECRET = "wx_soak_appid", "soak_secret"
CONCURRENCY = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    args: list[str]
    ready_url: str
    popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else -1


def config_text(db_url: str, port: int, public: str, sim: str, spool: Path, token: str) -> str:
    return f"""[server]
host = "127.0.0.1"
port = {port}
public_url = "{public}"
spool_dir = "{spool}"
run_senders = false
run_scheduler = true
[wechat]
appid = "{APPID}"
secret = "{SECRET}"
token = "soak-callback-token"
encrypt_mode = "plain"
encoding_aes_key = ""
api_base_url = "{sim}"
busy_retries = 3
busy_backoff_s = 0.05
[database]
url = "{db_url}"
pool_size = 5
[api]
token = "{token}"
[console]
trusted_proxies = ["127.0.0.1"]
[campaigns]
rate_limit_per_s = 1500.0
batch_size = 200
concurrency = {CONCURRENCY}
retry_backoff_s = 0.2
cap_per_day = 0
cap_per_week = 0
[followers]
enabled = false
[[tiers.levels]]
key = "gold"
name = "金牌会员"
rank = 1
min_spend = 500.0
[[faq]]
topic = "发货时间"
keywords = ["发货", "多久"]
answer = "现货 48 小时内发货。"
"""


class Installation:
    def __init__(self, work: Path, db_url: str) -> None:
        self.work, self.db_url = work, db_url
        self.api_token = "soak-api-token-0123456789"
        self.config_concurrency = CONCURRENCY
        sim_port, http_port, https_port = free_port(), free_port(), free_port()
        self.sim = f"http://127.0.0.1:{sim_port}/"
        self.nginx_http = f"http://127.0.0.1:{http_port}/"
        self.nginx_https = f"https://127.0.0.1:{https_port}/"
        self.config = work / "config.toml"
        serve_ports = [free_port(), free_port()]
        self.config.write_text(
            config_text(db_url, serve_ports[0], self.nginx_http, self.sim, work / "spool",
                        self.api_token), encoding="utf-8",
        )  # fmt: skip
        self.signer = CallbackSigner.from_config(load_config(self.config).wechat, now=time.time)
        laoke = [sys.executable, "-m", "laoke.cli"]
        self.simulator = Proc(
            "simulator",
            [*laoke, "fake-wechat", "--port", str(sim_port), "--open-windows", "--appid", APPID,
             "--secret", SECRET],
            self.sim + "_sim/stats",
        )  # fmt: skip
        self.serves = [
            Proc(f"serve {p}", [*laoke, "serve", "-c", str(self.config), "--port", str(p)],
                 f"http://127.0.0.1:{p}/healthz")
            for p in serve_ports
        ]  # fmt: skip
        self.serve_urls = [f"http://127.0.0.1:{p}/" for p in serve_ports]
        self.workers = [
            Proc(f"worker {p}", [*laoke, "worker", "-c", str(self.config), "--metrics-port", str(p)],
                 f"http://127.0.0.1:{p}/metrics")
            for p in (free_port(), free_port())
        ]  # fmt: skip
        self.nginx_conf = nginx_local.local_conf(work / "nginx", http_port, https_port, serve_ports)
        self.nginx: subprocess.Popen | None = None
        self.extra: list[Proc] = []

    async def laoke(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "laoke.cli", *args, "-c", str(config or self.config)]
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        return subprocess.CompletedProcess(cmd, proc.returncode, out.decode(), err.decode())

    async def prepare(self) -> None:
        done = await self.laoke("db", "upgrade")
        if done.returncode:
            raise SystemExit(f"laoke db upgrade failed: {done.stderr}")

    async def staff_account(self) -> str:
        done = await self.laoke("user", "add", "soak", "--role", "admin", "--generate")
        return done.stdout.rsplit(": ", 1)[-1].strip()

    async def _launch(self, proc: Proc) -> None:
        log = (self.work / f"{proc.name.replace(' ', '-')}.log").open("ab")
        # Popen returns at once; the wait for readiness below is asynchronous.
        proc.popen = subprocess.Popen(proc.args, cwd=ROOT, stdout=log, stderr=log)  # noqa: ASYNC220
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(proc.ready_url) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if proc.popen.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        raise SystemExit(f"{proc.name} did not start (see {log.name})")

    async def start(self) -> None:
        await self._launch(self.simulator)
        await asyncio.gather(*(self._launch(p) for p in [*self.serves, *self.workers]))
        self.nginx = nginx_local.start(self.nginx_conf)

    async def restart(self, proc: Proc) -> None:
        await self._launch(proc)

    def kill(self, proc: Proc) -> None:
        """SIGKILL: no cleanup, no lease given back, requests cut mid-way."""
        if proc.popen and proc.popen.poll() is None:
            os.kill(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()

    def memory(self) -> dict[str, float]:
        out = {}
        for proc in [*self.serves, *self.workers]:
            try:
                out[proc.name] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
            except psutil.Error:
                out[proc.name] = None
        return out

    async def sim_messages(self) -> list[dict]:
        async with aiohttp.ClientSession() as http:
            async with http.get(self.sim + "_sim/messages") as resp:
                return (await resp.json())["messages"]

    def replica_config(self, db_url: str) -> Path:
        port = free_port()
        path = self.work / "restored.toml"
        path.write_text(
            config_text(db_url, port, f"http://127.0.0.1:{port}/", self.sim,
                        self.work / "spool-restored", self.api_token)
            .replace("run_scheduler = true", "run_scheduler = false"),
            encoding="utf-8",
        )  # fmt: skip
        return path

    async def start_serve_on(self, config: Path) -> str:
        port = load_config(config).server.port
        proc = Proc("serve restored", [sys.executable, "-m", "laoke.cli", "serve", "-c",
                    str(config)], f"http://127.0.0.1:{port}/healthz")  # fmt: skip
        await self._launch(proc)
        self.extra.append(proc)
        return f"http://127.0.0.1:{port}/"

    def stop_all(self) -> None:
        for proc in [*self.serves, *self.workers, *self.extra, self.simulator]:
            if proc.popen and proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in [*self.serves, *self.workers, *self.extra, self.simulator]:
            if proc.popen:
                try:
                    proc.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
        if self.nginx is not None:
            nginx_local.stop(self.nginx)
