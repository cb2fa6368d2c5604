"""Two real ``laoke serve`` processes on one database: a publish written to the database
(as the console in any process writes it) changes what both answer within 2 seconds,
without a restart; a reset brings the file back the same way."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
from laoke_process import free_port, start_serve, write_serve_config

from bot.config import load_config
from bot.database import create_engine, sessionmaker
from bot.dialog.rendering import Renderer
from content import template_versions as tv
from demo.simulator.callback import CallbackSigner

TOKEN, APPID = "tpltoken", "wxtemplates000001"
NOW = datetime(2026, 5, 18, 6, 0, tzinfo=UTC)


async def test_a_publish_reaches_two_serve_processes_within_2s(db_url, tmp_path):
    signer = CallbackSigner(TOKEN, APPID)
    urls, procs, config_path = [], [], None
    for n in range(2):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        config_path = write_serve_config(
            tmp_path / f"serve{n}.toml", port, db_url, appid=APPID, token=TOKEN,
            spool_dir=tmp_path / f"spool{port}",
        )  # fmt: skip
        procs.append(await start_serve(config_path, tmp_path / f"serve{n}.log", urls[-1]))
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
