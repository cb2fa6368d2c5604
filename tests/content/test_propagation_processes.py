"""Two real ``laoke serve`` processes on one database: a publish written to the database
(as the console in any process writes it) changes what both answer within 2 seconds,
without a restart; a reset brings the file back the same way."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from laoke_process import start_laoke

from bot.config import load_config
from bot.database import create_engine, sessionmaker
from bot.dialog.rendering import Renderer
from content import template_versions as tv
from demo.simulator.callback import CallbackSigner

TOKEN, APPID = "tpltoken", "wxtemplates000001"
NOW = datetime(2026, 5, 18, 6, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, port: int, db_url: str) -> Path:
    path.write_text(
        f"""[server]
port = {port}
spool_dir = "{path.parent / f"spool{port}"}"
run_scheduler = false
run_senders = false
[wechat]
appid = "{APPID}"
secret = "s"
token = "{TOKEN}"
api_base_url = "http://127.0.0.1:9/"
[database]
url = "{db_url}"
""",
        encoding="utf-8",
    )
    return path


async def start_server(config: Path, log: Path, url: str):
    proc = await start_laoke("serve", "-c", str(config), log=log)
    async with aiohttp.ClientSession() as http:
        for _ in range(1500):
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    proc.kill()
    output = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"laoke serve did not start: {output[-2000:]}")


async def test_a_publish_reaches_two_serve_processes_within_2s(db_url, tmp_path):
    signer = CallbackSigner(TOKEN, APPID)
    urls, procs, config_path = [], [], None
    for n in range(2):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        config_path = write_config(tmp_path / f"serve{n}.toml", port, db_url)
        procs.append(await start_server(config_path, tmp_path / f"serve{n}.log", urls[-1]))
    config = load_config(config_path)
    engine = create_engine(config.database)
    sessions = sessionmaker(engine)
    turn = 0

    async def help_reply(http, url: str) -> str:
        nonlocal turn
        turn += 1
        params, body = signer.text(f"oTpl{turn:04d}", "帮助")
        async with http.post(url + "/wechat", params=params, data=body) as resp:
            return signer.parse_reply(await resp.read())["Content"]

    async def both_say(http, check) -> float:
        started = time.monotonic()
        while True:
            replies = [await help_reply(http, url) for url in urls]
            if all(check(r) for r in replies):
                return time.monotonic() - started
            assert time.monotonic() - started < 2.0, replies
            await asyncio.sleep(0.05)

    try:
        async with aiohttp.ClientSession() as http:
            assert "回复「会员」" in await help_reply(http, urls[0])
            async with sessions() as s, s.begin():
                row = await tv.save_draft(s, "help", "新的帮助：回复「名片」", (None, "张三"), NOW)
                await tv.publish(s, Renderer(), config, "help", row.version, "张三", NOW)
            await both_say(http, lambda r: "新的帮助：回复「名片」" in r)
            async with sessions() as s, s.begin():
                await tv.reset(s, "help", (None, "张三"), NOW)
            await both_say(http, lambda r: "回复「会员」" in r)
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
        await engine.dispose()
