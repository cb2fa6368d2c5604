"""Operator API for segments: save, change, list, read, delete, and preview (count + sample).

Thin: each endpoint validates its body (pydantic, via ``bot/api.py``), calls the functions of
``scheduler/saved_segments.py`` in one transaction, and turns their errors into 400 (a bad
spec, naming its path), 404 (no such segment) or 409 (name taken, segment in use).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import ApiError, ApiRoutes, json_response
from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from members.tiers import current_tiers
from scheduler.saved_segments import (
    Preview,
    Segment,
    SegmentExists,
    SegmentInUse,
    SegmentNotFound,
    buyer_summary,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
    update_segment,
)
from scheduler.segments import SegmentError, Vocabulary

routes = ApiRoutes("segments")

MAX_SAMPLE = 100


class SegmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="unique name")
    spec: dict[str, Any] = Field(description="the filter (docs/segments.md)")
    description: str = Field("", max_length=1000)


class SegmentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any] | None = None
    description: str | None = Field(None, max_length=1000)


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any]
    sample: int = Field(10, ge=0, le=MAX_SAMPLE)


def segment_to_dict(segment: Segment) -> dict[str, Any]:
    """A saved segment as the API and CLI show it."""
    return {
        "name": segment.name,
        "description": segment.description,
        "spec": segment.spec,
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }


def preview_to_dict(preview: Preview, now: datetime) -> dict[str, Any]:
    """A segment preview as the API and CLI show it: ``count`` matching buyers, of whom
    ``reachable`` can receive campaigns and ``in_window`` by customer-service message."""
    counts = preview.counts
    return {
        "count": counts.matching,
        "reachable": counts.reachable,
        "in_window": counts.in_window,
        "sample": [buyer_summary(b, now) for b in preview.sample],
    }


def spec_error(exc: SegmentError, prefix: str = "spec") -> ApiError:
    """A bad spec as a 400 naming where in the body it is wrong."""
    field = exc.path if exc.path == "name" else f"{prefix}.{exc.path}".replace(".(segment)", "")
    return ApiError(400, f"{field}: {exc.problem}", field=field)


def sample_size(request: web.Request, default: int = 10) -> int:
    raw = request.query.get("sample", str(default))
    if not re.fullmatch(r"[0-9]{1,3}", raw) or int(raw) > MAX_SAMPLE:
        raise ApiError(
            400, f"sample: must be a whole number from 0 to {MAX_SAMPLE}", field="sample"
        )
    return int(raw)


async def vocabulary(request: web.Request, session: AsyncSession) -> Vocabulary:
    """The values enumerated segment fields may take: the configured interests and the
    tier ladder in force (tiers an admin added in the console included)."""
    config = request.config_dict[CONFIG]
    return Vocabulary.from_config(config, await current_tiers(session, config.tiers))


async def _preview(request: web.Request, spec: dict[str, Any], sample: int) -> dict[str, Any]:
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            preview = await preview_segment(
                session, spec, now, sample, vocabulary=await vocabulary(request, session)
            )
        except SegmentError as exc:
            raise spec_error(exc) from None
    return preview_to_dict(preview, now)


@routes.route("POST", "/segments", "Save a new segment", body=SegmentBody)
async def create_segment_endpoint(request: web.Request, body: SegmentBody) -> dict[str, Any]:
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            segment = await create_segment(
                session,
                body.name,
                body.spec,
                now,
                body.description,
                vocabulary=await vocabulary(request, session),
            )
        except SegmentError as exc:
            raise spec_error(exc) from None
        except SegmentExists as exc:
            raise ApiError(409, str(exc), field="name") from None
        return segment_to_dict(segment)


@routes.route("GET", "/segments", "List saved segments")
async def list_segments_endpoint(request: web.Request) -> dict[str, Any]:
    async with request.config_dict[SESSIONMAKER]() as session:
        return {"segments": [segment_to_dict(s) for s in await list_segments(session)]}


@routes.route("GET", "/segments/{name}", "Read a saved segment")
async def get_segment_endpoint(request: web.Request) -> dict[str, Any]:
    async with request.config_dict[SESSIONMAKER]() as session:
        return segment_to_dict(await _get(session, request.match_info["name"]))


@routes.route(
    "PUT", "/segments/{name}", "Change a segment's spec or description", body=SegmentChange
)
async def update_segment_endpoint(request: web.Request, body: SegmentChange) -> dict[str, Any]:
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            segment = await update_segment(
                session,
                request.match_info["name"],
                now,
                body.spec,
                body.description,
                vocabulary=await vocabulary(request, session),
            )
        except SegmentError as exc:
            raise spec_error(exc) from None
        except SegmentNotFound as exc:
            raise ApiError(404, str(exc)) from None
        return segment_to_dict(segment)


@routes.route("DELETE", "/segments/{name}", "Delete a segment no live campaign uses")
async def delete_segment_endpoint(request: web.Request) -> dict[str, Any]:
    name = request.match_info["name"]
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            await delete_segment(session, name)
        except SegmentNotFound as exc:
            raise ApiError(404, str(exc)) from None
        except SegmentInUse as exc:
            raise ApiError(409, str(exc)) from None
    return {"deleted": name}


@routes.route(
    "GET",
    "/segments/{name}/preview",
    "Count a saved segment's buyers now, with a sample",
    query={"sample": f"how many buyers to show (0-{MAX_SAMPLE}, default 10)"},
)
async def preview_saved_segment_endpoint(request: web.Request) -> dict[str, Any]:
    sample = sample_size(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        segment = await _get(session, request.match_info["name"])
    return {"name": segment.name, **await _preview(request, segment.spec, sample)}


@routes.route(
    "POST",
    "/segments/preview",
    "Count an unsaved spec's buyers, with a sample",
    body=PreviewBody,
    status=200,
)
async def preview_spec_endpoint(request: web.Request, body: PreviewBody) -> web.Response:
    return json_response(await _preview(request, body.spec, body.sample))  # 200: nothing created


async def _get(session: Any, name: str) -> Segment:
    try:
        return await get_segment(session, name)
    except SegmentNotFound as exc:
        raise ApiError(404, str(exc)) from None
