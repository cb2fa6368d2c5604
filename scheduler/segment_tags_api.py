"""Mirroring a saved segment as a WeChat tag, from the API and the console, in the background.

``POST /api/segments/{name}/wechat-tag`` (body ``{"tag_name"?: …}``; the segment's name by
default) makes sure the tag exists — refusals come back at once: 400 for a name over 30
characters, 409 for a 101st tag, a name another tag has, a mirror already running — then
tags the followers in the background and answers 202 with the mirror's state;
``GET /api/segments/{name}/wechat-tag`` shows it (members, added, removed, skipped with why).
Refusals carry ``reason`` (a stable key) and ``staff_message`` (what the console shows).

:func:`start_mirror` is what the console's button calls too; the tasks belong to the
application (``tag_mirrors_ctx``) and are cancelled at shutdown (the mirror is then marked
failed, to be synced again). The work is ``scheduler/segment_tag_mirror.py``'s.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.api import ApiError, ApiRoutes, json_response
from bot.appkeys import CONFIG, SERVICES, SESSIONMAKER
from scheduler.saved_segments import SegmentNotFound
from scheduler.segment_tag_mirror import TagMirror
from scheduler.segment_tags import MirrorRunning, TagRefused, mirror_of, mirror_to_dict

routes = ApiRoutes("segments")

TAG_MIRRORS = web.AppKey("segment_tag_mirrors", set)
BAD_REQUEST = frozenset({"name_too_long", "name_empty"})


class TagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag_name: str | None = Field(
        None,
        max_length=64,
        description="the WeChat tag's name (≤ 30 characters; default: the segment's)",
    )


async def tag_mirrors_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the application's running mirrors, cancelled at shutdown."""
    tasks: set[asyncio.Task] = set()
    app[TAG_MIRRORS] = tasks
    yield
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=10)


async def start_mirror(
    app: Mapping[Any, Any], segment_name: str, tag_name: str | None
) -> dict[str, Any]:
    """Make sure the tag exists, then fill it in the background; the mirror's state.
    `app` is the application or a request's ``config_dict``.

    SegmentNotFound, TagRefused, MirrorRunning before anything runs in the background."""
    services = app[SERVICES]
    mirror = TagMirror(
        app[SESSIONMAKER], services.api, services.clock, app[CONFIG],
        holder=f"tags:{uuid.uuid4().hex[:12]}",
    )  # fmt: skip
    prepared = await mirror.prepare(segment_name, tag_name)
    task = asyncio.create_task(mirror.fill(prepared), name=f"tag-mirror-{prepared.row_id}")
    tasks = app[TAG_MIRRORS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    async with app[SESSIONMAKER]() as session:
        _, row = await mirror_of(session, segment_name)
    return mirror_to_dict(segment_name, row)


def refusal(exc: TagRefused) -> ApiError:
    status = 400 if exc.reason in BAD_REQUEST else 409
    extra = {"field": "tag_name"} if status == 400 else {}
    return ApiError(status, exc.english, reason=exc.reason, staff_message=exc.message, **extra)


@routes.route(
    "POST",
    "/segments/{name}/wechat-tag",
    "Mirror a saved segment as a WeChat tag (new members tagged, leavers untagged)",
    body=TagBody,
    status=202,
)
async def mirror_segment_endpoint(request: web.Request, body: TagBody) -> web.Response:
    name = request.match_info["name"]
    try:
        state = await start_mirror(request.config_dict, name, body.tag_name)
    except SegmentNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except TagRefused as exc:
        raise refusal(exc) from None
    except MirrorRunning:
        raise ApiError(
            409, "this segment's tag is being synced now", reason="running",
            staff_message="此分群正在同步为公众号标签，请等待完成",
        ) from None  # fmt: skip
    return json_response(state, status=202)


@routes.route("GET", "/segments/{name}/wechat-tag", "A segment's WeChat tag mirror and its counts")
async def segment_tag_endpoint(request: web.Request) -> dict[str, Any]:
    name = request.match_info["name"]
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            _, row = await mirror_of(session, name)
        except SegmentNotFound as exc:
            raise ApiError(404, str(exc)) from None
    return mirror_to_dict(name, row)
