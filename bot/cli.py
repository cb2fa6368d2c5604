"""The ``laoke`` command: serve, db, demo, fake-wechat, worker and the operator commands.

Each command loads and validates the configuration first; a bad configuration stops here
with a message naming the key (exit status 2), before anything is opened.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
from aiohttp import web

from bot.config import Config, ConfigError, load_config
from bot.database import SchemaOutOfDate, check_schema, create_engine, current_revision, head_revision, upgrade
from bot.logs import setup_logging

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config.toml",
    show_default=True,
    help="TOML configuration file (see config.example.toml).",
)


def load_or_exit(path: Path) -> Config:
    """Load the configuration or stop the process with a message that names the key."""
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(2)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Laoke (老客): the WeChat Official Account bot for B2B suppliers."""
    setup_logging(logging.DEBUG if verbose else logging.INFO)


@main.command()
@config_option
def serve(config_path: Path) -> None:
    """Run the webhook server (and, unless configured otherwise, scheduler and senders)."""
    from bot.app import create_app

    config = load_or_exit(config_path)

    async def schema_ok() -> None:
        engine = create_engine(config.database)
        try:
            await check_schema(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(schema_ok())
    except SchemaOutOfDate as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(3)
    web.run_app(
        create_app(config), host=config.server.host, port=config.server.port, access_log=None
    )


@main.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply all migrations (creates the SQLite file if needed)."""
    config = load_or_exit(config_path)
    create_engine(config.database)  # creates the SQLite folder
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

    asyncio.run(show())


if __name__ == "__main__":
    main()
