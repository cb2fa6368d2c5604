"""登录 and 退出: the sign-in form (throttled, audited) and sign-out.

The sign-in itself is ``sign_in.sign_in`` (hashing pool, throttle counted before the password
is checked, session, audit); this page renders what it came to: the wait or "too many
requests" (429), a wrong name or password (one message for both, 401), or the redirect with
the session cookie. ``next`` only ever leads back into ``/admin``.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.auth import SESSION_COOKIE, clear_cookie, redirect, set_cookie
from console.current import actor_of, client_address, signed_in_user
from console.password_pool import PASSWORD_POOL, busy_response
from console.registry import PageRoutes
from console.rendering import render
from console.sessions import end_session
from console.sign_in import sign_in

page = PageRoutes()


def _next(value: object) -> str:
    target = value if isinstance(value, str) else ""
    if not target.startswith("/admin") or target.startswith("/admin/login"):
        return "/admin/"
    return target


@page.get("/admin/login", role=None)
async def login_form(request: web.Request) -> web.StreamResponse:
    if signed_in_user(request) is not None:
        return redirect(request, _next(request.query.get("next")))
    return render(request, "login.html", {"name": "", "next": _next(request.query.get("next"))})


@page.post("/admin/login", role=None)
async def login(request: web.Request) -> web.StreamResponse:
    pool = request.config_dict[PASSWORD_POOL]
    if pool.full:  # a flood: refused before anything else is done for it
        return busy_response(pool)
    form = await request.post()
    name = str(form.get("name", "")).strip()[:64]
    target = _next(form.get("next"))
    address = client_address(request)
    result = await sign_in(
        request.config_dict[SESSIONMAKER], pool, name,
        str(form.get("password", "")), address, request.config_dict[CLOCK].now(),
        request.config_dict[CONFIG].console,
    )  # fmt: skip
    if result.token is None:
        context = {"name": name, "next": target, "error": result.error}
        return render(request, "login.html", context, status=result.status)
    response = redirect(request, target)
    set_cookie(request, response, SESSION_COOKIE, result.token)
    return response


@page.post("/admin/logout", role="viewer")
async def logout(request: web.Request) -> web.StreamResponse:
    user = signed_in_user(request)
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        await end_session(session, request.cookies.get(SESSION_COOKIE, ""))
        audit.record(
            session, actor_of(request), "logout", ("user", user.id if user else None), None, None,
            at=request.config_dict[CLOCK].now(),
        )  # fmt: skip
    response = redirect(request, "/admin/login")
    clear_cookie(response, SESSION_COOKIE)
    return response
