"""A fake WeChat API on loopback, for tests, benchmarks and the demo (``laoke fake-wechat``).

It answers the endpoints Laoke calls, the way WeChat does: ``GET cgi-bin/token``,
``POST cgi-bin/stable_token``, ``POST cgi-bin/message/custom/send`` and
``POST cgi-bin/message/template/send``, ``POST cgi-bin/media/upload?type=image`` (kept in
memory, served back at ``GET /_sim/media/{media_id}`` so the chat simulator can show it), and
the custom menu (``POST cgi-bin/menu/create`` with WeChat's validation errcodes, ``GET
cgi-bin/menu/get``, ``get_current_selfmenu_info``, ``menu/delete``; ``GET /_sim/menu`` shows it
to the chat simulator), and the account's template list (``GET
cgi-bin/template/get_all_private_template``, from ``FakeWeChat.templates``). It checks the access_token (40001 unknown, 42001
expired; a refetch leaves the previous token valid for 5 more minutes), and for
customer-service messages enforces the 48-hour window and its 5-message quota (45015 outside
the window, 45047 over the quota); a template message is recorded as the buyer sees it since
2023-05 (``first``/``remark`` dropped, each field one line cut to its type's limit). A follow, menu click or QR scan opens a 1-minute window of
3 messages instead. It only knows of interactions it is told about (``POST /_sim/interaction``,
which the chat simulator and tests call, or :meth:`FakeWeChat.open_window`).

Control endpoints under ``/_sim``: ``GET /_sim/messages?openid=&since=`` (every accepted
message, ``since`` is the last ``id`` already seen), ``POST /_sim/interaction``,
``POST /_sim/faults`` (next N calls answer an errcode or drop the connection, expire tokens
now, add latency), ``GET /_sim/stats`` and ``POST /_sim/reset``.

It is built to be fast (a campaign benchmark pushes 100k+ messages through it): every request
is O(1) and the log lives in memory. The account's state and rules are in
``demo/simulator/fake_account.py``; this module is the HTTP face. The follower list and tags
(``user/get``, ``user/info/batchget``, ``tags/…``, ``/_sim/followers``) are
``demo/simulator/fake_followers_api.py``'s, and mass send (``message/mass/send``,
``mass/preview``) ``demo/simulator/fake_mass_api.py``'s, mounted by :func:`setup_routes` too.
``GET cgi-bin/template/get_all_private_template`` lists the account's templates (typed
fields; ``FakeWeChat.templates``). It deliberately does not simulate permanent media or the
template daily quota.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from bot.clock import Clock
from bot.wechat.template_messages import RETIRED_KEYS, fit
from demo.simulator.fake_account import (
    MEDIA_MAX_BYTES,
    TOKEN_TTL_S,
    FakeWeChat,
    check_menu,
)
from demo.simulator.fake_followers_api import setup_follower_routes
from demo.simulator.fake_http import _OK, FAKE, _answer, _error, _faults, _json_body
from demo.simulator.fake_mass_api import setup_mass_routes

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})


async def get_token(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    if failed := await _faults(request, "token"):
        return failed
    q = request.query
    if q.get("grant_type") != "client_credential" or q.get("appid") != fake.appid:
        return _error(40013)
    if q.get("secret") != fake.secret:
        return _error(40125)
    return web.json_response({"access_token": fake.issue_token(), "expires_in": TOKEN_TTL_S})


async def post_stable_token(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    if failed := await _faults(request, "token"):
        return failed
    body = await _json_body(request)
    if body is None:
        return _error(47001)
    if body.get("grant_type") != "client_credential" or body.get("appid") != fake.appid:
        return _error(40013)
    if body.get("secret") != fake.secret:
        return _error(40125)
    token, expires_in = fake.issue_stable_token(bool(body.get("force_refresh")))
    return web.json_response({"access_token": token, "expires_in": expires_in})


async def _send_request(
    request: web.Request,
) -> tuple[FakeWeChat, dict[str, Any], str] | web.Response:
    """What every send API checks first: injected faults, the token, a JSON body with a
    recipient. Returns the error response, or (fake, body, openid)."""
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    body = await _json_body(request)
    if body is None:
        return _error(47001)
    openid = body.get("touser")
    if not openid or not isinstance(openid, str):
        return _error(40003)
    return fake, body, openid


async def custom_send(request: web.Request) -> web.Response:
    checked = await _send_request(request)
    if isinstance(checked, web.Response):
        return checked
    fake, body, openid = checked
    msgtype = body.get("msgtype")
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(payload, dict):
        return _error(47001)
    if msgtype == "image" and payload.get("media_id") not in fake.media:
        return _error(40007)
    if code := fake.take_window(openid):
        return _error(code)
    content = payload.get("content") if msgtype == "text" else None
    fake.record(openid, "custom", msgtype=msgtype, content=content, payload=payload)
    return _answer(_OK)


async def template_send(request: web.Request) -> web.Response:
    checked = await _send_request(request)
    if isinstance(checked, web.Response):
        return checked
    fake, body, openid = checked
    template_id = body.get("template_id")
    if not template_id or not isinstance(body.get("data"), dict):
        return _error(47001)
    # What the buyer sees since 2023-05: no first line or remark tail, one line per field,
    # each cut to its type's limit.
    shown = {
        key: {"value": fit(key, str(field.get("value", "")) if isinstance(field, dict) else "")}
        for key, field in body["data"].items()
        if not RETIRED_KEYS.match(str(key))
    }
    entry = fake.record(
        openid,
        "template",
        msgtype="template",
        template_id=template_id,
        data=shown,
        dropped=sorted(set(body["data"]) - set(shown)),
        url=body.get("url"),
    )
    return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": entry["id"]})


async def private_templates(request: web.Request) -> web.Response:
    """``template/get_all_private_template``: the account's templates, typed fields."""
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    return web.json_response({"template_list": fake.templates})


async def media_upload(request: web.Request) -> web.Response:
    """``multipart/form-data`` with a ``media`` file; only ``type=image`` (jpg/png/gif)."""
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    if request.query.get("type") != "image":
        return _error(40004)
    try:
        form = await request.post()
    except ValueError:
        return _error(44002)
    media = form.get("media")
    if not isinstance(media, web.FileField):
        return _error(44002)
    data = media.file.read(MEDIA_MAX_BYTES + 1)
    if not data or len(data) > MEDIA_MAX_BYTES or media.content_type not in IMAGE_TYPES:
        return _error(40005)
    media_id = fake.store_media(media.content_type, data)
    created = int(fake.clock.now().timestamp())
    return web.json_response({"type": "image", "media_id": media_id, "created_at": created})


async def sim_media(request: web.Request) -> web.Response:
    found = request.app[FAKE].media.get(request.match_info["media_id"])
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[1], content_type=found[0])


# --- the custom menu --------------------------------------------------------------------
async def _menu_request(request: web.Request) -> FakeWeChat | web.Response:
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    return fake


async def menu_create(request: web.Request) -> web.Response:
    fake = await _menu_request(request)
    if isinstance(fake, web.Response):
        return fake
    body = await _json_body(request)
    if body is None:
        return _error(44002)
    if code := check_menu(body):
        return _error(code)
    fake.menu = body["button"]
    return _answer(_OK)


async def menu_get(request: web.Request) -> web.Response:
    fake = await _menu_request(request)
    if isinstance(fake, web.Response):
        return fake
    if fake.menu is None:
        return _error(46003)
    return web.json_response({"menu": {"button": fake.menu}})


def _selfmenu(button: dict[str, Any]) -> dict[str, Any]:
    if button.get("sub_button"):
        return {"name": button["name"], "sub_button": {"list": button["sub_button"]}}
    return button


async def selfmenu_info(request: web.Request) -> web.Response:
    fake = await _menu_request(request)
    if isinstance(fake, web.Response):
        return fake
    if fake.menu is None:
        return web.json_response({"is_menu_open": 0})
    buttons = [_selfmenu(b) for b in fake.menu]
    return web.json_response({"is_menu_open": 1, "selfmenu_info": {"button": buttons}})


async def menu_delete(request: web.Request) -> web.Response:
    fake = await _menu_request(request)
    if isinstance(fake, web.Response):
        return fake
    fake.menu = None
    return _answer(_OK)


async def sim_templates(request: web.Request) -> web.Response:
    """``{"templates": {template_id: title}}``: templates added to the account (no fields)."""
    body = await _json_body(request)
    templates = body.get("templates") if body else None
    if not isinstance(templates, dict):
        raise web.HTTPBadRequest(text='expected {"templates": {template_id: title}}')
    for template_id, title in templates.items():
        request.app[FAKE].add_template(str(template_id), str(title))
    return web.json_response({"templates": len(request.app[FAKE].templates)})


async def sim_menu(request: web.Request) -> web.Response:
    """The published menu as a buyer's client shows it (no token: the chat page asks)."""
    return web.json_response({"button": request.app[FAKE].menu or []})


# --- control endpoints ------------------------------------------------------------------
def _parse_time(value: Any, fake: FakeWeChat) -> datetime:
    if value in (None, ""):
        return fake.clock.now()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=fake.clock.now().tzinfo)
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError("time must carry a time zone")
    return when


async def sim_interaction(request: web.Request) -> web.Response:
    """``{openid | openids, time?, kind?, scene?}``: the buyer wrote (or followed through QR
    `scene`, unfollowed, clicked) at `time`."""
    fake = request.app[FAKE]
    body = await _json_body(request)
    if body is None:
        raise web.HTTPBadRequest(text="expected a JSON object")
    openids = body.get("openids") or [body.get("openid")]
    if not all(isinstance(o, str) and o for o in openids):
        raise web.HTTPBadRequest(text="openid (or openids) required")
    try:
        when = _parse_time(body.get("time"), fake)
    except (ValueError, OverflowError, OSError) as exc:
        raise web.HTTPBadRequest(text=f"time: {exc}") from None
    kind = str(body.get("kind") or "message")
    scene = body.get("scene") if isinstance(body.get("scene"), str) else None
    for openid in openids:
        fake.open_window(openid, when, kind, scene=scene)
    return web.json_response({"ok": True, "count": len(openids)})


async def sim_messages(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    try:
        since = int(request.query.get("since") or 0)
    except ValueError:
        raise web.HTTPBadRequest(text="since: expected a message id") from None
    found = fake.messages_for(request.query.get("openid") or None, since)
    last = found[-1]["id"] if found else since
    return web.json_response({"messages": found, "last_id": last})


async def sim_faults(request: web.Request) -> web.Response:
    """``{errcode?, count?, on? ("send"|"token"), expire_tokens?, latency_ms?, drop?}``."""
    fake = request.app[FAKE]
    body = await _json_body(request)
    if body is None:
        raise web.HTTPBadRequest(text="expected a JSON object")
    try:
        fake.inject(
            int(body["errcode"]) if body.get("errcode") is not None else None,
            int(body.get("count", 1)),
            expire_tokens=bool(body.get("expire_tokens")),
            latency_ms=float(body["latency_ms"]) if body.get("latency_ms") is not None else None,
            drop=int(body.get("drop", 0)),
            on=str(body.get("on", "send")),
        )
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"ok": True})


async def sim_stats(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    return web.json_response(
        {
            "messages": len(fake.messages),
            "token_fetches": fake.token_fetches,
            "calls": fake.calls,
            "buyers_with_window": len(fake.windows),
        }
    )


async def sim_reset(request: web.Request) -> web.Response:
    request.app[FAKE].reset()
    return web.json_response({"ok": True})


def setup_routes(app: web.Application, fake: FakeWeChat) -> None:
    """Mount the fake WeChat on an existing application (the demo shares one server)."""
    app[FAKE] = fake

    async def date_from_clock(_request: web.Request, response: web.StreamResponse) -> None:
        # WeChat's answers carry its time in the Date header (laoke doctor compares clocks
        # with it): the simulator's is the time of its own clock, not the machine's.
        response.headers["Date"] = format_datetime(fake.clock.now(), usegmt=True)

    app.on_response_prepare.append(date_from_clock)
    app.router.add_get("/cgi-bin/token", get_token)
    app.router.add_post("/cgi-bin/stable_token", post_stable_token)
    app.router.add_post("/cgi-bin/message/custom/send", custom_send)
    app.router.add_post("/cgi-bin/message/template/send", template_send)
    app.router.add_post("/cgi-bin/media/upload", media_upload)
    app.router.add_get("/cgi-bin/template/get_all_private_template", private_templates)
    app.router.add_get("/_sim/media/{media_id}", sim_media)
    app.router.add_post("/cgi-bin/menu/create", menu_create)
    app.router.add_get("/cgi-bin/menu/get", menu_get)
    app.router.add_get("/cgi-bin/get_current_selfmenu_info", selfmenu_info)
    app.router.add_get("/cgi-bin/menu/delete", menu_delete)
    app.router.add_get("/_sim/menu", sim_menu)
    app.router.add_post("/_sim/templates", sim_templates)
    app.router.add_post("/_sim/interaction", sim_interaction)
    app.router.add_get("/_sim/messages", sim_messages)
    app.router.add_post("/_sim/faults", sim_faults)
    app.router.add_get("/_sim/stats", sim_stats)
    app.router.add_post("/_sim/reset", sim_reset)
    setup_follower_routes(app)  # user/get, user/info/batchget, tags/…, /_sim/followers
    setup_mass_routes(app)  # message/mass/send, mass/preview, /_sim/mass/jobs


def create_fake_wechat(
    clock: Clock | None = None,
    appid: str = "wx_fake_appid",
    secret: str = "fake_secret",
    *,
    open_windows: bool = False,
    account_type: str = "service",
) -> web.Application:
    """The simulator as an aiohttp application; its state is ``app[FAKE]``."""
    app = web.Application(client_max_size=MEDIA_MAX_BYTES + 65536)
    fake = FakeWeChat(clock, appid, secret, open_windows=open_windows, account_type=account_type)
    setup_routes(app, fake)
    return app


class FakeWeChatHandle:
    """What the ``fake_wechat`` pytest fixture yields: the URL and the state, for tests."""

    def __init__(self, app: web.Application, url: str) -> None:
        self.app = app
        self.state = app[FAKE]
        self.url = url if url.endswith("/") else url + "/"

    def messages(self, openid: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self.state.messages_for(openid, since)

    def open_window(self, openid: str, when: datetime | None = None, kind: str = "message") -> None:
        self.state.open_window(openid, when, kind)

    def inject(self, errcode: int | None = None, count: int = 1, **faults: Any) -> None:
        self.state.inject(errcode, count, **faults)

    @property
    def token_fetches(self) -> int:
        return self.state.token_fetches

    def wechat_config(self) -> dict[str, str]:
        """The ``[wechat]`` keys that point a config at this simulator (for make_config)."""
        return {"api_base_url": self.url, "appid": self.state.appid, "secret": self.state.secret}
