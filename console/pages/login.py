"""登录 and 退出: the sign-in form (throttled, audited) and sign-out.

A sign-in is refused, before any password is checked, while ``throttle.login_wait`` says the
account or the address must wait; the page says for how long. A wrong name and a wrong
password get the same message. ``next`` only ever leads back into ``/admin``.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit, throttle
from console.accounts import authenticate
from console.auth import SESSION_COOKIE, clear_cookie, redirect, set_cookie
from console.current import actor_of, client_address, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.sessions import end_session, purge_expired, start_session

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
    form = await request.post()
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))
    target = _next(form.get("next"))
    now = request.config_dict[CLOCK].now()
    config = request.config_dict[CONFIG].console
    address = client_address(request)
    context = {"name": name, "next": target}
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        wait = await throttle.login_wait(session, name, address, now, config)
        if wait is not None:
            return render(
                request, "login.html", context | {"error": throttle.wait_message(wait)}, status=429
            )
        user = await authenticate(session, name, password, now) if name and password else None
        if user is None:
            await throttle.record_failure(session, name, address, now)
            error = "用户名或密码错误，或账号已停用。"
            return render(request, "login.html", context | {"error": error}, status=401)
        await throttle.clear_failures(session, name)
        # Housekeeping rides on sign-ins: rare enough to be free, frequent enough to keep
        # both tables small.
        await throttle.purge_old(session, now, config)
        await purge_expired(session, now, config)
        token = await start_session(session, user, now, address)
        audit.record(
            session, audit.Actor(user.id, user.name, address), "login", ("user", user.id),
            None, None, at=now,
        )  # fmt: skip
    response = redirect(request, target)
    set_cookie(request, response, SESSION_COOKIE, token)
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
