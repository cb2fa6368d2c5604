"""Who is making the current console request: set by ``auth.guard``, read by pages.

A page reads ``signed_in_user(request)`` and ``actor_of(request)`` (for ``audit.record``);
it never reads cookies itself.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CONFIG
from console.audit import Actor
from console.client_address import address_of, networks
from console.models import User
from console.sessions import SignedIn

SIGNED_IN = web.RequestKey("console_signed_in", SignedIn)
# The sign-in form's CSRF token, bound to the pre-session cookie (no session exists yet).
LOGIN_CSRF = web.RequestKey("console_login_csrf", str)


def signed_in(request: web.Request) -> SignedIn | None:
    return request.get(SIGNED_IN)


def signed_in_user(request: web.Request) -> User | None:
    """The request's staff account, or None on the sign-in page."""
    state = signed_in(request)
    return state.user if state else None


def csrf_of(request: web.Request) -> str:
    """The CSRF token forms and htmx must send back with this session's changes."""
    state = signed_in(request)
    return state.csrf_token if state else request.get(LOGIN_CSRF, "")


def client_address(request: web.Request) -> str:
    """The client's address, through trusted reverse proxies (``console/client_address.py``)."""
    proxies = request.config_dict[CONFIG].console.trusted_proxies
    return address_of(
        request.remote,
        request.headers.getall("X-Forwarded-For", ()),
        networks(tuple(proxies)),
    )


def actor_of(request: web.Request) -> Actor:
    """The audit actor for this request: the signed-in account and its address."""
    user = signed_in_user(request)
    if user is None:
        raise RuntimeError("actor_of needs a signed-in request")
    return Actor(user.id, user.name, client_address(request))
