"""Operator API for the follower sync: start one, and watch it.

``POST /api/followers/sync`` starts (or resumes) the sync in the background and answers 202
with the job; while another sync runs it answers 409 with that one. ``GET
/api/followers/sync/latest`` and ``GET /api/followers/sync/{id}`` show a job's progress
(phase, listed, detailed, created, updated, left, errors, API calls). The write is audited by
the API's write hook like every other. The work is ``followers/runner.py``'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api import CALLER, SERVICE_CALLER, ApiError, ApiRoutes, json_response, path_id
from bot.appkeys import SESSIONMAKER
from followers.jobs import SyncRunning, get_job, job_to_dict, latest_job
from followers.runner import FOLLOWER_SYNCS

routes = ApiRoutes("followers")


@routes.route(
    "POST",
    "/followers/sync",
    "Start the follower sync (or resume the unfinished one); 409 while one runs",
    status=202,
)
async def start_follower_sync(request: web.Request) -> web.Response:
    caller = request.get(CALLER, SERVICE_CALLER)
    try:
        claim = await request.config_dict[FOLLOWER_SYNCS].start(trigger="api", actor=caller.name)
    except SyncRunning as exc:
        running = job_to_dict(exc.job) if exc.job is not None else None
        raise ApiError(409, "a follower sync is already running", job=running) from None
    return json_response(job_to_dict(claim.job) | {"resumed": claim.resumed}, status=202)


@routes.route("GET", "/followers/sync/latest", "The newest follower sync and its progress")
async def latest_follower_sync(request: web.Request) -> dict[str, Any]:
    async with request.config_dict[SESSIONMAKER]() as session:
        job = await latest_job(session)
    if job is None:
        raise ApiError(404, "no follower sync has run yet")
    return job_to_dict(job)


@routes.route("GET", "/followers/sync/{job_id:[0-9]+}", "A follower sync and its progress")
async def follower_sync(request: web.Request) -> dict[str, Any]:
    job_id = path_id(request.match_info["job_id"])
    async with request.config_dict[SESSIONMAKER]() as session:
        job = await get_job(session, job_id) if job_id is not None else None
    if job is None:
        raise ApiError(404, f"no follower sync with id {request.match_info['job_id']}")
    return job_to_dict(job)
