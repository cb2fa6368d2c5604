"""What every ``laoke`` command shares: the ``--config`` and ``--json`` options, loading the
configuration, turning database and port errors into one line and an exit status, running an
operator command's work against the database, and printing JSON or aligned tables.

Exit statuses: 1 an error the operator caused, 2 a bad configuration (the message names the
key), 3 an out-of-date schema, 4 a database that cannot be opened, 5 a port that cannot be
bound. This module registers no command: the composition root (``laoke/cli.py``) does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config, ConfigError, load_config, refuse_placeholders
from bot.database import (
    DatabaseUnreachable,
    SchemaOutOfDate,
    check_schema,
    create_engine,
    sessionmaker,
)
from bot.dialog.context import Services
from bot.services import open_services

T = TypeVar("T")

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config.toml",
    show_default=True,
    help="TOML configuration file (see config.example.toml).",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def load_or_exit(path: Path, *, serving: bool = False) -> Config:
    """Load the configuration or stop the process with a message that names the key.

    ``serving``: the process talks to WeChat for real (``serve``, ``worker``), so the
    unedited placeholders of config.example.toml are refused too."""
    try:
        config = load_config(path)
        if serving:
            refuse_placeholders(config)
        return config
    except ConfigError as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(2)


def local_time(value: str | datetime | None, tz: str) -> str:
    """A stored time (ISO 8601 text or a datetime; naive means UTC) as ``YYYY-MM-DD HH:MM`` in
    the zone `tz` (``[campaigns] timezone``): operators read times where they live."""
    if value is None or value == "":
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turn a database that cannot be opened (exit 4) or an out-of-date schema (exit 3) into
    one line on stderr instead of a traceback."""
    try:
        yield
    except SchemaOutOfDate as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(3)
    except DatabaseUnreachable as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(4)


@contextlib.contextmanager
def listening(host: str, port: int, fix: str) -> Iterator[None]:
    """A port that is taken or not ours to bind stops the command with one line saying which
    and how to choose another (`fix`), exit 5, instead of a traceback."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        click.echo(
            f"laoke: cannot listen on {host}:{port}: {os.strerror(exc.errno)}; {fix}", err=True
        )
        sys.exit(5)


def run_with_database(
    config: Config,
    work: Callable[[async_sessionmaker[AsyncSession], Services], Awaitable[T]],
    operator_errors: tuple[type[Exception], ...],
) -> T:
    """Run an operator command's `work` against the configured database and WeChat API.

    Database errors exit as ``database_errors`` says; errors the operator caused
    (`operator_errors`) print ``laoke: <message>`` and exit 1.
    """

    async def go() -> T:
        engine = create_engine(config.database)
        try:
            await check_schema(engine)
            maker = sessionmaker(engine)
            async with open_services(config, maker) as services:
                return await work(maker, services)
        finally:
            await engine.dispose()

    try:
        with database_errors():
            return asyncio.run(go())
    except operator_errors as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(1)


def read_json(text: str | None, what: str) -> Any:
    """A JSON argument: inline text, ``@file.json``, or ``-`` for standard input."""
    if text is None:
        return None
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=what) from None


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """Print `data` as the API's JSON (``--json``) or as `text` renders it."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text(data))


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (a Chinese character takes two)."""
    return text + " " * max(width - _width(text), 0)


def table(rows: list[list[Any]], header: list[str]) -> str:
    """Rows under a header in aligned columns (names and regions are Chinese: aligned by
    display width, not by character count)."""
    cells = [header, *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in cells
    )
