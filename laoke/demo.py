"""``laoke demo``: the whole product on one machine, with no WeChat account, served on one port.

The product's app (``create_app``), the fake WeChat API (``/cgi-bin/…``, ``/_sim/…``) which
the app's own API client calls (its mass sends reported back to the webhook as WeChat's
``MASSSENDJOBFINISH`` events), and the buyer chat simulator (``/chat/``), over the data
folder ``demo/demo.py`` prepares and seeds. This is wiring only, so it lives in the composition
root; what the demo seeds and how it is configured live in ``demo/``.

This module deliberately does not fake time or WeChat's delays; it is not for production.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.appkeys import SESSIONMAKER
from bot.cli_support import pad
from bot.clock import Clock
from bot.config import Config
from console.demo import demo_logins
from console.roles import Role
from demo.demo import DEMO_STARTERS, prepare_demo, replay_windows, seed_demo
from demo.simulator.callback import CallbackClient, CallbackSigner
from demo.simulator.chat import ChatSettings, create_chat_app
from demo.simulator.fake_account import FakeWeChat
from demo.simulator.fake_mass import finish_event_fields
from demo.simulator.fake_wechat import setup_routes
from laoke.app import create_app


# --- the application --------------------------------------------------------------------
def create_demo_app(config: Config, clock: Clock | None = None) -> web.Application:
    """The product's app plus the fake WeChat and the chat simulator, seeded on start."""
    clock = clock or Clock()
    app = create_app(config, clock=clock)
    fake = FakeWeChat(clock, config.wechat.appid, config.wechat.secret)
    setup_routes(app, fake)

    async def demo_data(app: web.Application) -> AsyncIterator[None]:
        await seed_demo(app[SESSIONMAKER], config, clock)
        await replay_windows(app[SESSIONMAKER], fake, clock.now())
        yield

    app.cleanup_ctx.append(demo_data)
    app.cleanup_ctx.append(_mass_reports(config, fake))
    app.cleanup_ctx.extend(DEMO_STARTERS)

    local = config.wechat.api_base_url.rstrip("/")
    chat = ChatSettings(
        webhook_url=local + config.server.webhook_path,
        fake_wechat_url=local + "/",
        wechat=config.wechat,
        database_url=config.database.url,
        tier_names=ChatSettings.tier_names_of(config),
    )
    app.router.add_get("/chat", _to_chat)
    app.add_subapp("/chat", create_chat_app(chat, clock=clock))
    return app


def _mass_reports(config: Config, fake: FakeWeChat):
    """Post each finished mass send's MASSSENDJOBFINISH event to the webhook, as WeChat does
    (a moment later, not inside the mass/send call)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        url = config.wechat.api_base_url.rstrip("/") + config.server.webhook_path
        pending: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as http:
            wechat = CallbackClient(CallbackSigner.from_config(config.wechat), http, url)

            async def report(job: dict[str, Any]) -> None:
                await asyncio.sleep(1)
                try:
                    await wechat.send_event(
                        wechat.signer.account, "MASSSENDJOBFINISH", **finish_event_fields(job)
                    )
                except Exception as exc:  # the demo goes on without the report
                    logging.getLogger(__name__).warning("mass send report not posted: %s", exc)

            async def on_finish(job: dict[str, Any]) -> None:
                task = asyncio.create_task(report(job))
                pending.add(task)
                task.add_done_callback(pending.discard)

            fake.mass.on_finish.append(on_finish)
            yield
            fake.mass.on_finish.remove(on_finish)
            for task in pending:
                task.cancel()

    return context


async def _to_chat(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat/")


@dataclass
class RunningDemo:
    config: Config
    runner: web.AppRunner
    urls: dict[str, str]
    # Console accounts to try the roles with: (name, role, password), fresh each run.
    logins: list[tuple[str, Role, str]]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_demo(
    data_dir: Path, host: str = "127.0.0.1", port: int = 8080, clock: Clock | None = None
) -> RunningDemo:
    """Prepare, seed and serve the demo; port 0 picks a free port."""
    clock = clock or Clock()
    # Bind first: the configuration must name the port the app calls itself on.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    config = await asyncio.to_thread(prepare_demo, data_dir, host, port)
    runner = web.AppRunner(create_demo_app(config, clock), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    base = config.wechat.api_base_url
    urls = {
        "chat simulator": base + "chat/",
        "webhook": base + config.server.webhook_path.lstrip("/"),
        "healthz": base + "healthz",
        "metrics": base + "metrics",
        "operator API": base + "api/",
        "fake WeChat messages": base + "_sim/messages",
    }
    urls["admin console"] = base + "admin/"
    logins = await demo_logins(runner.app[SESSIONMAKER], clock)
    return RunningDemo(config, runner, urls, logins)


def run_demo(data_dir: Path, host: str, port: int, echo: Callable[[str], None] = print) -> None:
    """Run the demo until interrupted, printing where everything is."""

    # The scheduler logs every tick at INFO; in the demo that drowns the URLs printed below.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        demo = await start_demo(data_dir, host, port)
        try:
            echo(f"Laoke demo running (data in {data_dir}, config {data_dir / 'config.toml'})")
            for name, url in demo.urls.items():
                echo(f"  {name + ':':24} {url}")
            echo(f"  {'API token:':24} {demo.config.api.token}")
            echo("Console logins (passwords are new on every start):")
            for name, role, password in demo.logins:
                echo(f"  {pad(role.label + '：', 24)} {name} / {password}")
            echo("Press Ctrl+C to stop.")
            await stop.wait()
        finally:
            await demo.stop()

    asyncio.run(main())
