"""设置 → 公众号连接 → 粉丝同步: start the follower sync and watch it (admins).

The box shows the newest sync (its phase, a progress bar, the counts, or why it stopped) and
the last one that completed; while a sync runs it polls ``/admin/settings/wechat/followers``
every 2 s (htmx) and stops polling when it ends. ``同步粉丝`` starts one — or resumes the
unfinished one — in the background (``followers/runner.py``), audited, then redirects back
(POST-redirect-GET); a sync already running is said so, not started twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.registry import PageRoutes
from console.rendering import render
from followers.jobs import STALE_AFTER, SyncRunning, counts_of, last_finished, latest_job
from followers.models import DONE, RUNNING
from followers.runner import FOLLOWER_SYNCS

page = PageRoutes()
PATH = "/admin/settings/wechat/followers"
BACK = "/admin/settings/wechat"

PHASES = {
    "listing": "读取粉丝列表",
    "detailing": "获取粉丝资料",
    "leavers": "标记已取消关注的粉丝",
    "done": "完成",
}
STATUSES = {
    "running": "同步中",
    "paused": "已暂停",
    "interrupted": "已中断",
    "failed": "失败",
    "done": "已完成",
    "abandoned": "已放弃",
}


async def follower_sync_view(request: web.Request) -> dict[str, Any]:
    """What the box shows: the newest job, the last completed one, the daily run."""
    now: datetime = request.config_dict[CLOCK].now()
    cfg = request.config_dict[CONFIG].followers
    async with request.config_dict[SESSIONMAKER]() as session:
        job = await latest_job(session)
        finished = job if job is not None and job.status == DONE else await last_finished(session)
    running = job is not None and job.status == RUNNING
    return {
        "job": job,
        "finished": finished,
        "running": running,
        # Its process died: the scheduler resumes it within a minute or two.
        "stale": running and now - job.heartbeat_at > STALE_AFTER,
        "phases": PHASES,
        "statuses": STATUSES,
        "daily": f"{cfg.sync_at:%H:%M}" if cfg.enabled else None,
        "refused": request.query.get("sync") == "running",
    }


@page.get(PATH, role="admin")
async def follower_sync_box(request: web.Request) -> web.StreamResponse:
    """The box alone (htmx polls it); without htmx, the whole 公众号连接 page."""
    if not request.headers.get("HX-Request"):
        raise web.HTTPFound(BACK)
    return render(request, "settings/_followers.html", {"f": await follower_sync_view(request)})


@page.post(PATH + "/sync", role="admin")
async def start_follower_sync(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    try:
        claim = await request.config_dict[FOLLOWER_SYNCS].start(trigger="console", actor=actor.name)
    except SyncRunning:
        return redirect(request, f"{BACK}?sync=running#follower-sync")
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        audit.record(
            session, actor, "followers.sync", ("follower_sync", claim.job.id), None,
            {"操作": "继续同步粉丝" if claim.resumed else "同步粉丝", **counts_of(claim.job)},
            at=request.config_dict[CLOCK].now(),
        )  # fmt: skip
    return redirect(request, f"{BACK}#follower-sync")
