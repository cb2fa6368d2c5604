"""分群 → 公众号标签: mirror the open segment as a WeChat tag, and watch it (operators).

The box under a saved segment in the builder shows the tag's name, how many followers carry
it, the last sync's counts, and the followers skipped with why (20 tags already, no longer
following), each linking to the buyer; while a sync runs it polls
``/admin/segments/wechat-tag?name=…`` every 2 s. ``同步为公众号标签`` is a POST on the segments
page (``console/pages/segments.py``) that calls :func:`start_from_console`; refusals come back
as Chinese sentences on the page. The work is ``scheduler/segment_tags_api.py``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.appkeys import CLOCK, SESSIONMAKER
from console import audit
from console.current import actor_of
from console.registry import PageRoutes
from console.rendering import render
from scheduler.saved_segments import SegmentNotFound
from scheduler.segment_tags import (
    RUNNING,
    STALE_AFTER,
    MirrorRunning,
    TagRefused,
    mirror_of,
    skipped_buyers,
)
from scheduler.segment_tags_api import start_mirror

page = PageRoutes()
PATH = "/admin/segments/wechat-tag"


async def segment_tag_view(request: web.Request, segment_name: str) -> dict[str, Any] | None:
    """What the box shows for saved segment `segment_name` (None when there is no such one)."""
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            _, row = await mirror_of(session, segment_name)
        except SegmentNotFound:
            return None
        skipped = await skipped_buyers(session, row.skipped_sample) if row else []
    running = (
        row is not None
        and row.status == RUNNING
        and row.heartbeat_at is not None
        and now - row.heartbeat_at < STALE_AFTER
    )
    return {"segment": segment_name, "row": row, "running": running, "skipped": skipped}


@page.get(PATH, role="operator")
async def segment_tag_box(request: web.Request) -> web.StreamResponse:
    """The box alone (htmx polls it); without htmx, the segment's page."""
    name = request.query.get("name", "")[:64]
    if not request.headers.get("HX-Request"):
        raise web.HTTPFound(f"/admin/segments?name={quote(name)}#wechat-tag")
    view = await segment_tag_view(request, name)
    if view is None:
        raise web.HTTPNotFound(text="没有这个分群")
    return render(request, "segments/_wechat_tag.html", {"t": view, "tag_error": ""})


async def start_from_console(request: web.Request, name: str, tag_name: str | None) -> str:
    """Start mirroring segment `name` as a tag; the refusal in Chinese, or "" when started."""
    try:
        state = await start_mirror(request.config_dict, name, tag_name)
    except TagRefused as exc:
        return exc.message
    except MirrorRunning:
        return "此分群正在同步为公众号标签，请等待完成"
    except SegmentNotFound:
        return f"分群「{name}」已不存在"
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        audit.record(
            session, actor_of(request), "segment.wechat_tag", ("segment_tag", state["tag_id"]),
            None, {"操作": "同步为公众号标签", "分群": name, "标签": state["tag_name"]},
            at=request.config_dict[CLOCK].now(),
        )  # fmt: skip
    return ""
