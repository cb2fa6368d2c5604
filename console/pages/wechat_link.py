"""设置 → 公众号连接: the callback URL to enter in the Official Account's backend, the mode and
whether callbacks and the access_token are alive (admins), and the follower sync's box
(``console/pages/follower_sync.py``).

The connection is read-only: it is configuration (``config.toml`` and environment secrets),
which a web page must not rewrite under a running server.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console.pages.follower_sync import follower_sync_view
from console.registry import PageRoutes
from console.rendering import render
from console.wechat_status import QUIET_AFTER, wechat_status

page = PageRoutes()


@page.get("/admin/settings/wechat", role="admin")
async def wechat_link(request: web.Request) -> web.StreamResponse:
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        status = await wechat_status(session, request.config_dict[CONFIG], now)
    quiet_hours = int(QUIET_AFTER.total_seconds() // 3600)
    followers = await follower_sync_view(request)
    return render(
        request,
        "settings/wechat.html",
        {"s": status, "quiet_hours": quiet_hours, "f": followers},
    )
