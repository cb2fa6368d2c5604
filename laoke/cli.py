"""The ``laoke`` command: serve, db, demo, fake-wechat, worker and the operator commands.

The one place every subcommand is registered (``main.add_command`` at the bottom); the
features' commands live in their packages (``members/cli.py``, ``scheduler/cli.py``,
``scheduler/segment_commands.py``) and share ``bot/cli_support.py``. Each command loads and
validates the configuration first; a bad configuration stops here
with a message naming the key (exit status 2), before anything is opened. A database that
cannot be opened exits 4, and an out-of-date schema 3, each with one line saying why.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path

import click
from aiohttp import web

from bot.cli_support import config_option, database_errors, listening, load_or_exit
from bot.database import (
    check_schema,
    connect,
    create_engine,
    current_revision,
    head_revision,
    upgrade,
)
from bot.inbound.spool import Spool, SpoolError
from bot.logs import setup_logging
from console.cli import user
from demo.simulator.fake_wechat import FAKE, create_fake_wechat
from followers import cli as followers_cli
from laoke.app import create_app
from laoke.demo import run_demo
from members import cli as members_cli
from ops import cli as ops_cli
from scheduler import cli as scheduler_cli
from scheduler import segment_commands, segment_tag_commands
from scheduler.engine import run_worker, worker_runner
from statements import cli as statements_cli
from understanding import cli as intents_cli


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Laoke (老客): the WeChat Official Account bot for B2B suppliers."""
    setup_logging(logging.DEBUG if verbose else logging.INFO)


@main.command()
@config_option
@click.option(
    "--port",
    type=int,
    default=None,
    help="Listen on this port instead of [server] port (several serve processes on one machine).",
)
def serve(config_path: Path, port: int | None) -> None:
    """Run the webhook server (and, unless configured otherwise, scheduler and senders)."""
    config = load_or_exit(config_path, serving=True)
    port = config.server.port if port is None else port

    async def schema_ok() -> None:
        engine = create_engine(config.database)
        try:
            await check_schema(engine)
        finally:
            await engine.dispose()

    with database_errors():
        asyncio.run(schema_ok())
    try:
        Spool(Path(config.server.spool_dir)).prepare()
    except SpoolError as exc:
        click.echo(f"laoke: server.spool_dir: {exc}", err=True)
        sys.exit(2)
    app = create_app(config)
    # Everything imported and built so far lives as long as the process: keep it out of the
    # cyclic collector's full passes (shorter GC pauses under load).
    gc.collect()
    gc.freeze()
    with listening(config.server.host, port, "set [server] host/port or --port"):
        web.run_app(
            app,
            host=config.server.host,
            port=port,
            access_log=None,
            loop=fast_event_loop(),
            # aiohttp's keep-alive timer also closes a connection whose request head is not
            # complete by then: it is the header read timeout (docs/webhook.md, slow clients).
            keepalive_timeout=config.server.header_timeout_s,
        )


def fast_event_loop() -> asyncio.AbstractEventLoop | None:
    """uvloop's event loop when it is installed (about 20% less CPU per webhook message in
    bench/webhook.py), else None: asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop()


@main.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply all migrations (creates the SQLite file if needed)."""
    config = load_or_exit(config_path)

    async def reachable() -> None:
        engine = create_engine(config.database)  # creates the SQLite folder
        try:
            async with connect(engine):
                pass
        finally:
            await engine.dispose()

    with database_errors():
        asyncio.run(reachable())  # a clear message first, rather than Alembic's traceback
    upgrade(config.database.url)
    click.echo(f"database at {head_revision()}")


@db.command("current")
@config_option
def db_current(config_path: Path) -> None:
    """Print the schema revision of the database and the one this version needs."""
    config = load_or_exit(config_path)

    async def show() -> None:
        engine = create_engine(config.database)
        try:
            click.echo(f"database: {await current_revision(engine)}; needed: {head_revision()}")
        finally:
            await engine.dispose()

    with database_errors():
        asyncio.run(show())


@main.command()
@config_option
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve this worker's /metrics on [server] host at this port (for Prometheus).",
)
def worker(config_path: Path, metrics_port: int | None) -> None:
    """Send campaign deliveries only (scale-out: run any number beside `serve`)."""
    config = load_or_exit(config_path, serving=True)
    with database_errors():
        if metrics_port is None:
            worker_runner()(run_worker(config))
        else:
            with listening(config.server.host, metrics_port, "choose another --metrics-port"):
                worker_runner()(run_worker(config, metrics_port=metrics_port))


@main.command("fake-wechat")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--latency-ms", default=0.0, show_default=True, help="Added to every API call.")
@click.option("--appid", default="wx_fake_appid", show_default=True)
@click.option("--secret", default="fake_secret", show_default=True)
@click.option(
    "--open-windows",
    is_flag=True,
    help="Let messages reach buyers it never heard from (load tests).",
)
def fake_wechat(
    host: str, port: int, latency_ms: float, appid: str, secret: str, open_windows: bool
) -> None:
    """Run the WeChat API simulator (see docs/simulators.md)."""
    try:  # uvloop, when installed, roughly doubles what one simulator process answers
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = create_fake_wechat(appid=appid, secret=secret, open_windows=open_windows)
    if latency_ms:
        app[FAKE].inject(latency_ms=latency_ms)
    ready = f"fake WeChat API at http://{host}:{port}/ (appid {appid}, secret {secret})"
    with listening(host, port, "choose another with --port"):
        web.run_app(app, host=host, port=port, access_log=None, print=lambda _: click.echo(ready))


@main.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="data/demo",
    show_default=True,
    help="Folder for the demo's config.toml and SQLite database.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def demo(data_dir: Path, host: str, port: int) -> None:
    """Run everything on one machine with no WeChat account (see docs/simulators.md)."""
    with listening(host, port, "choose another with --port"):
        run_demo(data_dir, host, port, echo=click.echo)


# Every subcommand of the features, registered here and nowhere else.
main.add_command(members_cli.import_orders_command)
main.add_command(members_cli.tier)
main.add_command(scheduler_cli.campaign)
main.add_command(segment_commands.segment)
main.add_command(user)
main.add_command(followers_cli.followers)
main.add_command(statements_cli.statements)
main.add_command(intents_cli.intents)
segment_commands.segment.add_command(segment_tag_commands.segment_wechat_tag)
main.add_command(ops_cli.backup)
main.add_command(ops_cli.restore)
main.add_command(ops_cli.doctor)

if __name__ == "__main__":
    main()
