"""The fake WeChat's mass-send endpoints: ``POST cgi-bin/message/mass/send``,
``POST cgi-bin/message/mass/preview`` and ``GET /_sim/mass/jobs`` (every accepted send with what
its ``MASSSENDJOBFINISH`` event reports). The rules are ``demo/simulator/fake_mass.py``'s.
"""

from __future__ import annotations

from aiohttp import web

from demo.simulator.fake_account import FakeWeChat
from demo.simulator.fake_http import FAKE, _faults, _json_body
from demo.simulator.fake_http import _error as _base_error
from demo.simulator.fake_mass import ERRMSG, TEXT_MAX


def _error(code: int) -> web.Response:
    return _base_error(code, ERRMSG.get(code))


async def _text_request(request: web.Request) -> tuple[FakeWeChat, dict] | web.Response:
    """Faults, the token and a text body: the error response, or (fake, body)."""
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _base_error(code)
    body = await _json_body(request)
    if body is None or body.get("msgtype") != "text" or not isinstance(body.get("text"), dict):
        return _base_error(47001)
    return fake, body


async def mass_send(request: web.Request) -> web.Response:
    checked = await _text_request(request)
    if isinstance(checked, web.Response):
        return checked
    fake, body = checked
    now = fake.clock.now()
    openids, content = body.get("touser"), body["text"].get("content")
    if code := fake.mass.check(openids, content, body.get("clientmsgid"), now):
        return _error(code)
    job, delivered = fake.mass.accept(openids, content, body.get("clientmsgid"), now)
    for openid in delivered:
        fake.record(openid, "mass", msgtype="text", content=content, msg_id=job["msg_id"])
    for listener in list(fake.mass.on_finish):
        await listener(job)
    return web.json_response(
        {"errcode": 0, "errmsg": "send job submission success", "msg_id": job["msg_id"],
         "msg_data_id": job["msg_id"] * 10}
    )  # fmt: skip


async def mass_preview(request: web.Request) -> web.Response:
    checked = await _text_request(request)
    if isinstance(checked, web.Response):
        return checked
    fake, body = checked
    openid, content = body.get("touser"), body["text"].get("content")
    if not isinstance(openid, str) or not openid:
        return _base_error(40003)
    if not isinstance(content, str) or not content or len(content) > TEXT_MAX:
        return _error(45002)
    fake.record(openid, "mass_preview", msgtype="text", content=content)
    return web.json_response({"errcode": 0, "errmsg": "preview success", "msg_id": 0})


async def sim_mass_jobs(request: web.Request) -> web.Response:
    """Every accepted mass send with what its MASSSENDJOBFINISH event reports."""
    return web.json_response({"jobs": request.app[FAKE].mass.jobs})


def setup_mass_routes(app: web.Application) -> None:
    """Mount the mass-send endpoints (``app[FAKE]`` is the simulated account)."""
    app.router.add_post("/cgi-bin/message/mass/send", mass_send)
    app.router.add_post("/cgi-bin/message/mass/preview", mass_preview)
    app.router.add_get("/_sim/mass/jobs", sim_mass_jobs)
