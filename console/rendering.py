"""Page rendering: the console's Jinja2 environment (autoescape on) and its static files.

Templates live in ``console/templates`` and static files in ``console/static``; both ship in
the package. Static URLs carry a hash of the file's content (``/admin/static/<hash>/…``), so
they are served ``immutable`` for a year and a changed file gets a new URL. ``render`` adds
what every page needs (the signed-in user, the CSRF token, the navigation). This module does
not decide who may see a page (``auth.py``) or what is on it (``pages/``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.dialog.rendering import cents
from console.current import csrf_of, signed_in_user
from console.nav import visible_nav
from console.roles import Role

STATIC_DIR = Path(__file__).parent / "static"
JINJA = web.AppKey("console_jinja", jinja2.Environment)
BEIJING = ZoneInfo("Asia/Shanghai")
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class ConsoleState:
    """What setup computed once: static file hashes and the role each nav page needs."""

    static_hashes: dict[str, str]
    page_roles: dict[str, Role]


STATE = web.AppKey("console_state", ConsoleState)


def static_hashes() -> dict[str, str]:
    """Relative path → first 12 hex digits of the file's SHA-256, for every static file."""
    hashes = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            hashes[path.relative_to(STATIC_DIR).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()[:12]
    return hashes


def beijing(value: datetime | None) -> str:
    """A timestamp as staff read it: ``2026-05-18 14:02`` Beijing time; ``—`` when absent."""
    if value is None:
        return "—"
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def setup_jinja(app: web.Application, state: ConsoleState) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("console", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        app_key=JINJA,
        filters={"beijing": beijing, "json": _json, "cents": cents},
    )

    def static_url(name: str) -> str:
        return f"/admin/static/{state.static_hashes[name]}/{name}"

    env.globals["static_url"] = static_url
    env.globals["role_label"] = lambda role: Role.parse(role).label
    app[STATE] = state


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a console page with the layout's context (user, CSRF token, navigation)."""
    user = signed_in_user(request)
    state = request.config_dict[STATE]
    base: dict[str, Any] = {
        "user": user,
        "role": Role.parse(user.role) if user else None,
        "csrf_token": csrf_of(request),
        "nav": visible_nav(Role.parse(user.role), state.page_roles, request.path) if user else [],
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(
        template, request, base | context, status=status, app_key=JINJA
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def serve_static(request: web.Request) -> web.StreamResponse:
    """A static file; immutable caching when the URL's hash is the file's current one."""
    name = request.match_info["name"]
    hashes = request.config_dict[STATE].static_hashes
    if name not in hashes:  # also refuses '..' and anything outside the folder
        raise web.HTTPNotFound()
    cache = IMMUTABLE if request.match_info["hash"] == hashes[name] else "no-cache"
    # FileResponse sends the file without blocking the loop (ECharts is 1 MB).
    return web.FileResponse(
        STATIC_DIR / name, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    )
