"""What every endpoint of the fake WeChat API shares: the app key of the simulated account,
WeChat-shaped answers and errors, the injected faults each call passes through, and reading a
JSON body leniently (WeChat answers 47001/44002 to bodies it cannot read, it does not crash).

``demo/simulator/fake_wechat.py`` (messages, media, menu) and
``demo/simulator/fake_followers_api.py`` (followers and tags) build their endpoints on these.
This module holds no endpoint and no rule of the platform.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from demo.simulator.fake_account import ERRMSG, FakeWeChat

FAKE = web.AppKey("fake_wechat", FakeWeChat)

# Answers are prebuilt bytes: the benchmarks push thousands of sends a second through here.
_OK = b'{"errcode":0,"errmsg":"ok"}'
_ERRORS = {
    code: json.dumps({"errcode": code, "errmsg": msg}).encode() for code, msg in ERRMSG.items()
}


def _answer(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _error(code: int, errmsg: str | None = None) -> web.Response:
    body = _ERRORS.get(code) or json.dumps({"errcode": code, "errmsg": errmsg or "error"}).encode()
    return _answer(body)


async def _faults(request: web.Request, on: str) -> web.Response | None:
    """Apply injected faults to an API call; a response if the call must fail."""
    fake = request.app[FAKE]
    fake.calls += 1
    faults = fake.faults
    if faults.latency_s:
        await asyncio.sleep(faults.latency_s)
    if faults.drops:
        faults.drops -= 1
        # Close the socket without answering: the client sees a dropped connection.
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never written: the socket is gone
    if queue := faults.errcodes[on]:
        return _error(queue.popleft())
    return None


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
