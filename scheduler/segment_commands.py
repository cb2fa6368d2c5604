"""``laoke segment …``: save, show, list, delete and preview segments from a terminal.

The same functions as the segments API (``scheduler/segments_api.py``), with the options and
output helpers of ``bot/cli_support.py``; ``laoke/cli.py`` registers the group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli_support import (
    config_option,
    emit,
    json_option,
    load_or_exit,
    local_time,
    read_json,
    table,
)
from bot.clock import Clock
from scheduler.cli import run
from scheduler.saved_segments import (
    SegmentExists,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
    update_segment,
)
from scheduler.segment_fields import FIELDS
from scheduler.segment_vocabulary import Vocabulary
from scheduler.segments_api import preview_to_dict, segment_to_dict


@click.group()
def segment() -> None:
    """Saved segments: filters over buyers (see docs/segments.md)."""


def _preview_text(data: dict[str, Any]) -> str:
    rows = [
        [b["id"], b["openid"], b["name"], b["tier"], b["region"], b["days_since_interaction"]]
        for b in data["sample"]
    ]
    header = ["ID", "OPENID", "NAME", "TIER", "REGION", "DAYS QUIET"]
    sample = table(rows, header) if rows else "(no buyers)"
    outside = data["reachable"] - data["in_window"]
    return (
        f"{data['count']:,} buyers match; {data['reachable']:,} can receive campaigns "
        f"(subscribed, not opted out): {data['in_window']:,} inside the 48-hour window, "
        f"{outside:,} outside it (reached only by a template message).\n{sample}"
    )


def _segment_text(data: dict[str, Any]) -> str:
    spec = json.dumps(data["spec"], ensure_ascii=False, indent=2)
    return f"{data['name']}  {data['description']}\nupdated {data['updated_at']}\n{spec}"


@segment.command("list")
@config_option
@json_option
def segment_list(config_path: Path, as_json: bool) -> None:
    """List saved segments."""

    async def work(make: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
        async with make() as session:
            return [segment_to_dict(s) for s in await list_segments(session)]

    config = load_or_exit(config_path)
    tz = config.campaigns.timezone
    data = run(config, work)
    rows = [[s["name"], local_time(s["updated_at"], tz), s["description"]] for s in data]
    emit(data, as_json, lambda d: table(rows, ["NAME", f"UPDATED ({tz})", "DESCRIPTION"]))


@segment.command("show")
@click.argument("name")
@config_option
@json_option
def segment_show(name: str, config_path: Path, as_json: bool) -> None:
    """Show a saved segment's spec."""

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with make() as session:
            return segment_to_dict(await get_segment(session, name))

    emit(run(load_or_exit(config_path), work), as_json, _segment_text)


@segment.command("save")
@click.argument("name")
@click.argument("spec")
@click.option("--description", default="", help="What the segment is for.")
@click.option("--replace", is_flag=True, help="Change the segment if it exists.")
@config_option
@json_option
def segment_save(
    name: str, spec: str, description: str, replace: bool, config_path: Path, as_json: bool
) -> None:
    """Save segment NAME with SPEC (JSON text, @file.json or - for stdin)."""
    parsed = read_json(spec, "SPEC")
    config = load_or_exit(config_path)
    known = Vocabulary.from_config(config)

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        now = Clock().now()
        async with make.begin() as session:
            try:
                saved = await create_segment(
                    session, name, parsed, now, description, vocabulary=known
                )
            except SegmentExists:
                if not replace:
                    raise
                saved = await update_segment(
                    session, name, now, parsed, description or None, vocabulary=known
                )
            return segment_to_dict(saved)

    emit(run(config, work), as_json, _segment_text)


@segment.command("delete")
@click.argument("name")
@config_option
def segment_delete(name: str, config_path: Path) -> None:
    """Delete a saved segment (refused while an unfinished campaign uses it)."""

    async def work(make: async_sessionmaker[AsyncSession]) -> None:
        async with make.begin() as session:
            await delete_segment(session, name)

    run(load_or_exit(config_path), work)
    click.echo(f"deleted segment {name}")


@segment.command("preview")
@click.argument("name", required=False)
@click.option("--spec", help="Preview this spec (JSON, @file, -) instead of a saved segment.")
@click.option("--sample", default=10, show_default=True, type=click.IntRange(0, 100))
@config_option
@json_option
def segment_preview(
    name: str | None, spec: str | None, sample: int, config_path: Path, as_json: bool
) -> None:
    """Count the buyers a segment matches now and show a sample."""
    if (name is None) == (spec is None):
        raise click.UsageError("give a segment NAME or --spec, not both")
    parsed = read_json(spec, "--spec")

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        now = Clock().now()
        async with make() as session:
            chosen = parsed if name is None else (await get_segment(session, name)).spec
            return preview_to_dict(await preview_segment(session, chosen, now, sample), now)

    emit(run(load_or_exit(config_path), work), as_json, _preview_text)


@segment.command("fields")
@config_option
def segment_fields(config_path: Path) -> None:
    """List the fields a segment can filter on, with their operators.

    ``-c`` is accepted like on every other command; the fields do not depend on it."""
    rows = [[f.name, ", ".join(f.kind.ops), f.doc] for f in FIELDS.values()]
    click.echo(table(rows, ["FIELD", "OPERATORS", "MEANING"]))
