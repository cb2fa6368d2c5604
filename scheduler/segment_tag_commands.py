"""``laoke segment wechat-tag NAME``: mirror a saved segment as a WeChat tag from a terminal.

The same two steps as the API and the console's 同步为公众号标签 button
(``scheduler/segment_tag_mirror.py``), run in the foreground: the tag is made sure of, then
the segment's followers are tagged and those who left it untagged, and the counts printed
(with the followers skipped and why). A refusal of the platform's limits prints its reason
and exits 1. ``laoke/cli.py`` adds the command to the ``segment`` group.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click

from bot.cli_support import config_option, emit, json_option, load_or_exit, run_with_database
from scheduler.saved_segments import SegmentNotFound
from scheduler.segment_tag_mirror import TagMirror
from scheduler.segment_tags import FAILED, MirrorRunning, TagRefused


def _text(data: dict[str, Any]) -> str:
    lines = [
        f"segment {data['segment']} → WeChat tag {data['tag_name']!r} (id {data['tag_id']}): "
        f"{data['status']}",
        f"  {data['members']:,} followers carry it; {data['added']:,} added, "
        f"{data['removed']:,} removed, {data['skipped']:,} skipped",
    ]
    lines += [f"  skipped {s['openid']}: {s['reason']}" for s in data["skipped_sample"]]
    if data["error"]:
        lines.append(f"  {data['error']}")
    return "\n".join(lines)


@click.command("wechat-tag")
@click.argument("name")
@click.option("--tag-name", help="The tag's name (at most 30 characters; default: NAME).")
@config_option
@json_option
def segment_wechat_tag(name: str, tag_name: str | None, config_path: Path, as_json: bool) -> None:
    """Mirror saved segment NAME as a WeChat tag (for sending from the platform's backend)."""
    config = load_or_exit(config_path)

    async def work(maker, services) -> dict[str, Any]:
        mirror = TagMirror(
            maker, services.api, services.clock, config, holder=f"cli:{uuid.uuid4().hex[:12]}"
        )
        return await mirror.fill(await mirror.prepare(name, tag_name))

    data = run_with_database(config, work, (SegmentNotFound, MirrorRunning, TagRefused))
    emit(data, as_json, _text)
    if data["status"] == FAILED:
        raise SystemExit(1)
