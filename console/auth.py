"""The checks every console route passes: session, role, CSRF.

``guard(route)`` wraps a declared route (``registry.PageRoute``): it resumes the session from
the cookie (``sessions.resume_session``), sends an anonymous visitor to the sign-in page, answers
a role below the route's with a 403 page naming the role needed, and refuses a state-changing
request without the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``, which htmx sends from ``hx-headers`` on ``<body>``). The sign-in form, which
has no session yet, is bound to a pre-session instead: a random value in an HttpOnly,
SameSite=Strict cookie, and the form's token is its HMAC under a key derived from the
server's secrets (``login_token``). A token taken from another pre-session (the attacker's
own) does not match the victim's cookie, and the cookie cannot be read to compute one.
Cookies are HttpOnly, SameSite=Lax (the pre-session: Strict), and Secure when ``[server]
public_url`` is https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console.current import LOGIN_CSRF, SIGNED_IN
from console.registry import Handler, PageRoute
from console.rendering import render
from console.roles import Role
from console.sessions import resume_session

SESSION_COOKIE = "laoke_session"
LOGIN_CSRF_COOKIE = "laoke_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def secure_cookies(request: web.Request) -> bool:
    return request.config_dict[CONFIG].server.public_url.startswith("https://")


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    samesite: str = "Lax",
) -> None:
    response.set_cookie(
        name, value, path="/admin", httponly=True, samesite=samesite,
        secure=secure_cookies(request),
    )  # fmt: skip


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/admin")


def login_url(next_path: str) -> str:
    return "/admin/login?next=" + quote(next_path, safe="/")


def redirect(request: web.Request, location: str) -> web.Response:
    """303 to `location`; htmx requests get ``HX-Redirect`` so the whole page moves."""
    if request.headers.get("HX-Request"):
        return web.Response(status=204, headers={"HX-Redirect": location})
    return web.Response(status=303, headers={"Location": location})


def forbidden(request: web.Request, needed: Role) -> web.Response:
    return render(request, "forbidden.html", {"needed": needed}, status=403)


class UnreadableForm(Exception):
    """A POST body that is not a well-formed form (bad encoding, broken multipart)."""


async def read_form(request: web.Request) -> None:
    """Parse the form once, up front (aiohttp caches it for the handler); a malformed body
    becomes UnreadableForm instead of an error inside the handler."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            await request.post()
        except (ValueError, HttpProcessingError) as exc:
            raise UnreadableForm(str(exc)) from exc


async def sent_csrf(request: web.Request) -> str:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def bad_form() -> web.Response:
    return web.Response(
        status=400, text="表单无法读取（编码或格式错误），操作未执行。", content_type="text/plain"
    )


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def csrf_refused(request: web.Request) -> web.Response:
    return render(request, "csrf.html", {}, status=403)


def guard(route: PageRoute) -> Handler:
    """The route's handler behind the session, role and CSRF checks."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method not in SAFE_METHODS:
            try:
                await read_form(request)
            except UnreadableForm:
                return bad_form()
        token = request.cookies.get(SESSION_COOKIE, "")
        state = None
        if token:
            async with request.config_dict[SESSIONMAKER]() as session, session.begin():
                state = await resume_session(
                    session, token, request.config_dict[CLOCK].now(),
                    request.config_dict[CONFIG].console,
                )  # fmt: skip
        if state is not None:
            request[SIGNED_IN] = state
        if route.role is None:
            return await _public(route, request)
        if state is None:
            response = redirect(request, login_url(request.path_qs))
            if token:
                clear_cookie(response, SESSION_COOKIE)
            return response
        if Role.parse(state.user.role) < route.role:
            return forbidden(request, route.role)
        if request.method not in SAFE_METHODS and not _same(
            await sent_csrf(request), state.csrf_token
        ):
            return csrf_refused(request)
        return await route.handler(request)

    return handle


def login_token(request: web.Request, presession: str) -> str:
    """The sign-in form's CSRF token for a pre-session: an HMAC only the server can make.

    The key is derived from the WeChat app secret, which every ``serve`` process shares and
    nobody outside has; its use here is separated by the label, so nothing computed here says
    anything about the secret or about its other uses."""
    secret = request.config_dict[CONFIG].wechat.secret.encode()
    key = hmac.new(secret, b"laoke console sign-in csrf", hashlib.sha256).digest()
    return hmac.new(key, presession.encode(), hashlib.sha256).hexdigest()


async def _public(route: PageRoute, request: web.Request) -> web.StreamResponse:
    """The sign-in page: its form's CSRF token is bound to the pre-session cookie."""
    presession = request.cookies.get(LOGIN_CSRF_COOKIE, "")[:64]
    if request.method not in SAFE_METHODS and not (
        presession and _same(await sent_csrf(request), login_token(request, presession))
    ):
        return csrf_refused(request)
    fresh = not presession
    presession = presession or secrets.token_urlsafe(32)
    request[LOGIN_CSRF] = login_token(request, presession)
    response = await route.handler(request)
    if fresh:
        set_cookie(request, response, LOGIN_CSRF_COOKIE, presession, samesite="Strict")
    return response
