"""A publish in one process reaches another process's renderer within 2 seconds, without a
restart: two app instances on one database (SQLite, and PostgreSQL when available)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bot.appkeys import SERVICES, SESSIONMAKER
from content import template_versions as tv
from laoke.app import create_app

NOW = datetime(2026, 5, 18, 6, 0, tzinfo=UTC)


async def _until(check, seconds: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not propagated in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_publish_reaches_the_other_instance_within_2s(aiohttp_client, make_config, db_url):
    config = make_config(database={"url": db_url})
    one = await aiohttp_client(create_app(config))
    other = await aiohttp_client(create_app(config))
    renderer = other.app[SERVICES].renderer
    assert renderer.render("welcome", buyer=None).startswith("欢迎关注")
    sessions = one.app[SESSIONMAKER]
    async with sessions() as s, s.begin():
        row = await tv.save_draft(s, "welcome", "来自另一个进程的欢迎语", (None, "张三"), NOW)
        services = one.app[SERVICES]
        await tv.publish(s, services.renderer, config, "welcome", row.version, "张三", NOW)
    await _until(lambda: renderer.render("welcome", buyer=None) == "来自另一个进程的欢迎语", 2.0)
    async with sessions() as s, s.begin():
        await tv.reset(s, "welcome", (None, "张三"), NOW)
    await _until(lambda: renderer.render("welcome", buyer=None).startswith("欢迎关注"), 2.0)
