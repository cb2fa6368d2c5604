"""Every /admin route × anonymous, viewer, operator, admin: sign-in redirect, 403 naming the
role needed, or the page — exactly as the route declares. Changes also need the CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

import console
from bot.models import Buyer
from console.pages import all_routes
from console.roles import Role
from console.tokens import create_token
from scheduler.campaigns import create_campaign

# Signing out ends the session the walk uses: it goes last.
ROUTES = sorted(all_routes(), key=lambda r: r.path == "/admin/logout")
ROLES = [None, Role.viewer, Role.operator, Role.admin]


def _fill(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


@pytest.fixture
async def as_role(console):
    """Headers per role (None: anonymous) and ids for routes with parameters."""
    headers = {None: {}}
    for role in (Role.viewer, Role.operator, Role.admin):
        headers[role] = await console.login_as(role.name)
    target = await console.add_user("target-user", "viewer")
    async with console.sessionmaker() as session, session.begin():
        token, _secret = await create_token(session, target, "t", "read", None, console.clock.now())
        buyer = Buyer(openid="o-route-walk", first_seen_at=console.clock.now())
        session.add(buyer)
        await session.flush()
        campaign = await create_campaign(
            session,
            {"kind": "broadcast", "name": "walk", "text": "hi",
             "send_at": (console.clock.now() + timedelta(days=1)).isoformat()},
            console.clock,
        )  # fmt: skip
    ids = {
        "user_id": target.id,
        "token_id": token.id,
        "buyer_id": buyer.id,
        "template": "welcome",
        "key": "2026-11",
    }
    return headers, ids | {"campaign_id": campaign.id}


def test_every_navigation_page_and_setting_is_a_declared_route():
    paths = {(r.method, r.path) for r in ROUTES}
    for path in ("/admin/", "/admin/buyers", "/admin/settings/members", "/admin/settings/audit",
                 "/admin/settings/tokens", "/admin/login"):  # fmt: skip
        assert ("GET", path) in paths
    assert len(paths) == len(ROUTES), "a route is declared twice"


async def _answer(console, route, path, headers) -> tuple[int, str, str]:
    send = getattr(console.client, route.method.lower())
    kwargs = {"headers": headers, "allow_redirects": False}
    if route.method == "POST":
        kwargs["data"] = {}
    resp = await send(path, **kwargs)
    return resp.status, resp.headers.get("Location", ""), await resp.text()


async def test_every_route_answers_each_role_as_declared(console, as_role):
    headers, ids = as_role
    wrong: list[str] = []
    for route in ROUTES:
        path = _fill(route.path, ids)
        for role in ROLES:
            status, location, body = await _answer(console, route, path, headers[role])
            who = f"{route.method} {path} as {role.name if role else 'anonymous'}: {status}"
            if status >= 500:
                wrong.append(who)
            elif route.role is None:  # the sign-in page itself
                continue
            elif role is None:
                if status != 303 or not location.startswith("/admin/login?next="):
                    wrong.append(who + " (expected the sign-in redirect)")
            elif role < route.role:
                if status != 403 or f"需要「{route.role.label}」" not in body:
                    wrong.append(who + f" (expected 403 naming {route.role.label})")
            elif status in (401, 403):
                wrong.append(who + " (expected to be let in)")
    assert not wrong, "\n".join(wrong)


async def test_a_change_without_the_csrf_token_is_refused_on_every_post_route(console, as_role):
    headers, ids = as_role
    admin = {"Cookie": headers[Role.admin]["Cookie"]}  # the cookie, not the token
    for route in ROUTES:
        if route.method != "POST" or route.role is None:
            continue
        path = _fill(route.path, ids)
        for sent in (admin, admin | {"X-CSRF-Token": "forged"}):
            resp = await console.client.post(path, headers=sent, data={})
            assert resp.status == 403, path
            assert "CSRF" in await resp.text(), path


async def test_navigation_shows_only_what_the_role_may_open(console):
    viewer = await console.login_as("viewer")
    html = await (await console.client.get("/admin/", headers=viewer)).text()
    assert ">买家<" in html and ">总览<" in html
    for hidden in ("收件箱", "分群", "成员与角色", "操作日志", "API 令牌", "话术模板"):
        assert f">{hidden}<" not in html, hidden
    admin = await console.login_as("admin")
    html = await (await console.client.get("/admin/", headers=admin)).text()
    for shown in ("收件箱", "分群", "成员与角色", "操作日志", "API 令牌", "话术模板"):
        assert f">{shown}<" in html, shown


async def test_static_files_are_served_immutable_under_their_hash(console):
    html = await (await console.client.get("/admin/login")).text()
    src = re.search(r'src="(/admin/static/[0-9a-f]{12}/vendor/htmx-2[^"]+)"', html).group(1)
    resp = await console.client.get(src)
    assert resp.status == 200
    assert "immutable" in resp.headers["Cache-Control"]
    assert "javascript" in resp.headers["Content-Type"]
    stale = re.sub(r"/static/[0-9a-f]{12}/", "/static/000000000000/", src)
    assert "immutable" not in (await console.client.get(stale)).headers["Cache-Control"]
    assert (await console.client.get("/admin/static/x/../../pyproject.toml")).status == 404


async def test_a_malformed_form_body_is_a_400_not_a_server_error(console):
    admin = await console.login_as("admin")
    bodies = (
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
        ("application/x-www-form-urlencoded", b"name=%ZZ\xff\xfe"),
    )
    for path in ("/admin/settings/members", "/admin/login"):
        for content_type, body in bodies:
            resp = await console.client.post(
                path, headers=admin | {"Content-Type": content_type}, data=body
            )
            assert resp.status == 400, (path, content_type)


async def test_every_console_response_sends_the_strict_security_headers(console):
    viewer = await console.login_as("viewer")
    answers = [
        await console.client.get("/admin/login"),
        await console.client.get("/admin/buyers", headers=viewer),
        await console.client.get("/admin/settings/members", headers=viewer),  # 403 page
        await console.client.get("/admin/buyers", allow_redirects=False),  # to the sign-in
        await console.client.get("/admin/no-such-page", headers=viewer),
        await console.client.get("/admin/static/x/console.js"),
    ]
    for resp in answers:
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, resp.url
        script_src = csp.split("script-src")[1].split(";")[0]
        assert script_src.strip() == "'self'"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "Content-Security-Policy" not in (await console.client.get("/healthz")).headers


def test_no_console_template_carries_script_the_policy_would_block():
    templates = Path(console.__file__).parent / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        scripts = re.findall(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", text)
        assert not scripts, path
        assert not re.search(r"\son[a-z]+=", text), path
