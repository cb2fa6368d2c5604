"""The staff console under ``/admin``: server-rendered Chinese pages for operators and admins.

``setup(app)`` is the one call the app factory makes: it mounts every page module's routes
(``console/pages``) behind the session, role and CSRF checks (``auth.guard``), the static
files under ``/admin/static``, the Jinja2 environment (autoescape on), and the hooks that let
``/api`` accept per-user tokens and audit its writes, and the one page buyers open: a
statement behind a signed link (``console/statement_link.py``). The console reads and changes data
only through domain functions; it sends nothing to buyers itself.
"""

from __future__ import annotations

from aiohttp import web

from bot.api import API_HOOKS


def setup(app: web.Application) -> None:
    """Mount the console on `app` (after the database cleanup_ctx has been added)."""
    # Imported here, not at the top: laoke/schema.py imports console.models, and that must
    # not pull in the pages, aiohttp-jinja2 and the API hooks.
    from bot.appkeys import CONFIG
    from console.api_access import HOOKS
    from console.auth import guard
    from console.headers import add_security_headers
    from console.pages import all_routes
    from console.pages import inbox as inbox_page
    from console.password_pool import pool_ctx
    from console.rendering import ConsoleState, serve_static, setup_jinja, static_hashes
    from console.statement_link import mount as mount_statement_link

    routes = all_routes()
    page_roles = {r.path: r.role for r in routes if r.method == "GET" and r.role is not None}
    setup_jinja(app, ConsoleState(static_hashes(), page_roles))
    for route in routes:
        app.router.add_route(route.method, route.path, guard(route))
    app.router.add_get("/admin", _to_home)
    app.router.add_get("/admin/static/{hash}/{name:.+}", serve_static)
    app[API_HOOKS] = HOOKS
    app.on_response_prepare.append(add_security_headers)
    settings = app[CONFIG].console
    app.cleanup_ctx.append(pool_ctx(settings.password_workers, settings.password_queue))
    inbox_page.mount(app)  # the inbox's live-update feed
    mount_statement_link(app)  # buyers' statement pages, by signed link (no session)


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")
