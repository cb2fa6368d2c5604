"""Every route of the application refuses a caller without the API token, except the public ones.

The list of public routes is written out here: a new route is private until someone adds it
to this list on purpose. Console pages (``/admin``) are guarded by a staff session, not the
API token: without one they send the visitor to the sign-in page (or refuse a POST), except
the sign-in page itself and the static files, listed here likewise.
"""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web

from bot.appkeys import CONFIG, SESSIONMAKER
from laoke.app import create_app
from scheduler.saved_segments import create_segment

WEBHOOK = "/wechat"
# (method, path template) answered without the API token; everything else must answer 401.
PUBLIC = {
    ("GET", WEBHOOK),  # WeChat's own signature guards it (403)
    ("HEAD", WEBHOOK),
    ("POST", WEBHOOK),
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/metrics"),
    ("HEAD", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("HEAD", "/api/openapi.json"),
    # A buyer's statement page: the signed, expiring token in the path guards it (403 when
    # altered or expired, tests/console/test_statement_link.py); "有问题" posts back to it.
    ("GET", "/s/{token}"),
    ("HEAD", "/s/{token}"),
    ("POST", "/s/{token}/question"),
}
CONSOLE_PUBLIC = {
    ("GET", "/admin"),  # a redirect to /admin/
    ("HEAD", "/admin"),
    ("GET", "/admin/login"),
    ("HEAD", "/admin/login"),
    ("POST", "/admin/login"),  # guarded by its own double-submit CSRF cookie and throttling
    ("GET", "/admin/static/{hash}/{name}"),
    ("HEAD", "/admin/static/{hash}/{name}"),
}
SAMPLE = {"name": "openapi.json", "openid": "oBuyer0"}  # any other parameter: "1"
TOKENS = {"no token": {}, "wrong token": {"Authorization": "Bearer not-the-token"}}


def every_route(app: web.Application):
    """(method, path template) for every route of `app` and of its sub-applications (whose
    resources carry their prefix once mounted)."""
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:
            yield from every_route(info["app"])
            continue
        for route in resource:
            yield route.method, resource.canonical


def concrete(template: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: SAMPLE.get(m.group(1), "1"), template)


@pytest.fixture
async def client(aiohttp_client, make_config, clock):
    config = make_config(
        api={"token": "op-token"},
        server={"run_senders": False, "run_scheduler": False, "webhook_path": WEBHOOK},
    )
    client = await aiohttp_client(create_app(config, clock=clock))
    async with client.app[SESSIONMAKER].begin() as session:  # a segment with a tricky name
        await create_segment(session, "openapi.json", {"all": []}, clock.now())
    return client


async def test_every_private_route_refuses_a_missing_or_wrong_token(client):
    routes = sorted(set(every_route(client.app)))
    assert len(routes) > 20  # the walk found the API's routes
    assert PUBLIC <= set(routes), sorted(PUBLIC - set(routes))
    failures = []
    for method, template in routes:
        if (method, template) in PUBLIC | CONSOLE_PUBLIC:
            continue
        console = template.startswith("/admin")
        for label, headers in TOKENS.items():
            resp = await client.request(
                method, concrete(template), headers=headers, json={}, allow_redirects=False
            )
            if console:
                to_login = resp.status in (302, 303) and resp.headers.get(
                    "Location", ""
                ).startswith("/admin/login")
                if not (to_login or resp.status in (401, 403)):
                    failures.append(f"{method} {template} with {label}: {resp.status}")
            elif resp.status != 401:
                failures.append(f"{method} {template} with {label}: {resp.status}")
    assert not failures


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/segments/openapi.json"),
        ("PUT", "/api/segments/openapi.json"),
        ("DELETE", "/api/segments/openapi.json"),
        ("GET", "/api/segments/x%2Fopenapi.json"),
        ("GET", "/api/segments/openapi.json/preview"),
        ("GET", "/api/nothing/openapi.json"),
        ("GET", "/api//openapi.json"),
        ("GET", "/api/openapi.json/"),
    ],
)
async def test_a_path_ending_in_openapi_json_is_not_public(client, method, path):
    resp = await client.request(method, path, json={"spec": {"all": []}})
    assert resp.status == 401


async def test_the_openapi_document_is_public(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    assert "/api/segments" in (await resp.json())["paths"]


# The demo adds the WeChat simulator and the chat simulator: public by design, and nothing else.
DEMO_PUBLIC_PREFIXES = ("/cgi-bin/", "/_sim/", "/chat")


async def test_in_the_demo_only_the_simulators_are_public_besides_the_product_routes(tmp_path):
    from laoke.demo import start_demo

    demo = await start_demo(tmp_path / "demo", "127.0.0.1", 0)
    try:
        app = demo.runner.app
        path = app[CONFIG].server.webhook_path
        public = {(m, path if p == WEBHOOK else p) for m, p in PUBLIC}
        routes = sorted(set(every_route(app)))
        private = [
            (method, template)
            for method, template in routes
            if (method, template) not in public and not template.startswith(DEMO_PUBLIC_PREFIXES)
            and not template.startswith("/admin")  # the console's walk: tests/console
        ]  # fmt: skip
        assert len(private) > 20 and all(t.startswith("/api/") for _, t in private), private
        base = demo.urls["healthz"].removesuffix("/healthz")
        async with aiohttp.ClientSession() as http:
            for method, template in private:
                for headers in TOKENS.values():
                    async with http.request(
                        method, base + concrete(template), headers=headers, json={}
                    ) as resp:
                        assert resp.status == 401, (method, template)
    finally:
        await demo.stop()
