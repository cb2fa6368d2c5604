"""A fake WeChat API on loopback, for tests, benchmarks and the demo (``laoke fake-wechat``).

It answers the endpoints Laoke calls, the way WeChat does: ``GET cgi-bin/token``,
``POST cgi-bin/stable_token``, ``POST cgi-bin/message/custom/send`` and
``POST cgi-bin/message/template/send``. It checks the access_token (40001 unknown, 42001
expired; a refetch leaves the previous token valid for 5 more minutes), and for
customer-service messages enforces the 48-hour window and its 5-message quota (45015 outside
the window, 45047 over the quota). A follow, menu click or QR scan opens a 1-minute window of
3 messages instead. It only knows of interactions it is told about (``POST /_sim/interaction``,
which the chat simulator and tests call, or :meth:`FakeWeChat.open_window`).

Control endpoints under ``/_sim``: ``GET /_sim/messages?openid=&since=`` (every accepted
message, ``since`` is the last ``id`` already seen), ``POST /_sim/interaction``,
``POST /_sim/faults`` (next N calls answer an errcode or drop the connection, expire tokens
now, add latency), ``GET /_sim/stats`` and ``POST /_sim/reset``.

It is built to be fast (a campaign benchmark pushes 100k+ messages through it): every request
is O(1) and the log lives in memory. It deliberately does not simulate mass send, menus,
followers, media or the template daily quota.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.clock import Clock

TOKEN_TTL_S = 7200
# WeChat keeps the previous access_token working for 5 minutes after a new fetch.
OLD_TOKEN_GRACE = timedelta(minutes=5)
MESSAGE_WINDOW = timedelta(hours=48)
MESSAGE_WINDOW_QUOTA = 5
EVENT_WINDOW = timedelta(minutes=1)
EVENT_WINDOW_QUOTA = 3
EVENT_KINDS = frozenset({"follow", "subscribe", "click", "scan", "event"})

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


@dataclass
class Window:
    """The span in which customer-service messages to one buyer are allowed, and its quota."""

    expires_at: datetime
    quota: int
    used: int = 0


@dataclass
class Faults:
    """Faults injected on demand; each countdown applies to the next N API calls."""

    # Errcodes answered in order, one per call, by the message sends or the token endpoints.
    errcodes: dict[str, deque[int]] = field(
        default_factory=lambda: {"send": deque(), "token": deque()}
    )
    drops: int = 0
    latency_s: float = 0.0


class FakeWeChat:
    """The simulator's state: tokens, windows, the message log and pending faults."""

    def __init__(
        self,
        clock: Clock | None = None,
        appid: str = "wx_fake_appid",
        secret: str = "fake_secret",
        *,
        open_windows: bool = False,
    ) -> None:
        self.clock = clock or Clock()
        self.appid = appid
        self.secret = secret
        # open_windows: treat buyers the simulator never heard of as inside their window
        # (for load tests that do not replay interactions first).
        self.open_windows = open_windows
        self.reset()

    def reset(self) -> None:
        """Forget tokens, windows, messages and faults."""
        self.tokens: dict[str, datetime] = {}
        self.current_token: str | None = None
        self.stable_token: str | None = None
        self.windows: dict[str, Window] = {}
        self.messages: list[dict[str, Any]] = []
        self.by_openid: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.faults = Faults()
        self.token_fetches = 0
        self.calls = 0
        self._ids = itertools.count(1)

    # --- state changes tests and the chat simulator ask for -----------------------------
    def open_window(self, openid: str, when: datetime | None = None, kind: str = "message") -> None:
        """Record a buyer interaction: a message opens 48 h / 5 messages, an event 1 min / 3."""
        when = when or self.clock.now()
        if kind in EVENT_KINDS:
            current = self.windows.get(openid)
            # A short event window never shortens a message window that is still open.
            if current is not None and current.expires_at > when + EVENT_WINDOW:
                return
            self.windows[openid] = Window(when + EVENT_WINDOW, EVENT_WINDOW_QUOTA)
        else:
            self.windows[openid] = Window(when + MESSAGE_WINDOW, MESSAGE_WINDOW_QUOTA)

    def inject(
        self,
        errcode: int | None = None,
        count: int = 1,
        *,
        expire_tokens: bool = False,
        latency_ms: float | None = None,
        drop: int = 0,
        on: str = "send",
    ) -> None:
        """Make the next `count` calls `on` ("send" or "token") answer `errcode`, etc.

        ``drop`` and ``latency_ms`` apply to every API call.
        """
        if errcode is not None:
            if on not in self.faults.errcodes:
                raise ValueError(f"on: expected 'send' or 'token', not {on!r}")
            self.faults.errcodes[on].extend([errcode] * count)
        self.faults.drops += drop
        if latency_ms is not None:
            self.faults.latency_s = latency_ms / 1000
        if expire_tokens:
            now = self.clock.now()
            self.tokens = dict.fromkeys(self.tokens, now)

    def messages_for(self, openid: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Accepted messages (optionally one buyer's) with an id greater than `since`."""
        log = self.by_openid.get(openid, []) if openid else self.messages
        if since <= 0:
            return list(log)
        # ids grow with position, so the tail after `since` is found from the end.
        start = len(log)
        while start > 0 and log[start - 1]["id"] > since:
            start -= 1
        return log[start:]

    # --- the WeChat side ------------------------------------------------------------------
    def issue_token(self) -> str:
        now = self.clock.now()
        if self.current_token is not None:
            self.tokens[self.current_token] = min(
                self.tokens[self.current_token], now + OLD_TOKEN_GRACE
            )
        token = secrets.token_urlsafe(48)
        self.tokens[token] = now + timedelta(seconds=TOKEN_TTL_S)
        self.current_token = token
        self.token_fetches += 1
        return token

    def issue_stable_token(self, force_refresh: bool) -> tuple[str, int]:
        now = self.clock.now()
        token = self.stable_token
        if force_refresh or token is None or self.tokens.get(token, now) <= now:
            if token is not None:
                self.tokens[token] = min(self.tokens[token], now + OLD_TOKEN_GRACE)
            token = secrets.token_urlsafe(48)
            self.tokens[token] = now + timedelta(seconds=TOKEN_TTL_S)
            self.stable_token = token
            self.token_fetches += 1
        return token, int((self.tokens[token] - now).total_seconds())

    def check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        expires_at = self.tokens.get(token)
        if expires_at is None:
            return 40001
        if expires_at <= self.clock.now():
            return 42001
        return 0

    def take_window(self, openid: str) -> int:
        """Use one message of the buyer's window; the errcode if there is none left."""
        window = self.windows.get(openid)
        if window is None:
            if not self.open_windows:
                return 45015
            window = self.windows[openid] = Window(self.clock.now() + MESSAGE_WINDOW, 1 << 30)
        if window.expires_at <= self.clock.now():
            return 45015
        if window.used >= window.quota:
            return 45047
        window.used += 1
        return 0

    def record(self, openid: str, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {
            "id": next(self._ids),
            "time": self.clock.now().isoformat(),
            "openid": openid,
            "kind": kind,
            **fields,
        }
        self.messages.append(entry)
        self.by_openid[openid].append(entry)
        return entry


FAKE = web.AppKey("fake_wechat", FakeWeChat)


# Answers are prebuilt bytes: the benchmarks push thousands of sends a second through here.
_OK = b'{"errcode":0,"errmsg":"ok"}'
_ERRORS = {
    code: json.dumps({"errcode": code, "errmsg": msg}).encode() for code, msg in ERRMSG.items()
}


def _answer(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _error(code: int) -> web.Response:
    body = _ERRORS.get(code) or json.dumps({"errcode": code, "errmsg": "error"}).encode()
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


async def custom_send(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    body = await _json_body(request)
    if body is None:
        return _error(47001)
    openid, msgtype = body.get("touser"), body.get("msgtype")
    if not openid or not isinstance(openid, str):
        return _error(40003)
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(payload, dict):
        return _error(47001)
    if code := fake.take_window(openid):
        return _error(code)
    content = payload.get("content") if msgtype == "text" else None
    fake.record(openid, "custom", msgtype=msgtype, content=content, payload=payload)
    return _answer(_OK)


async def template_send(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    if failed := await _faults(request, "send"):
        return failed
    if code := fake.check_token(request.query.get("access_token")):
        return _error(code)
    body = await _json_body(request)
    if body is None:
        return _error(47001)
    openid, template_id = body.get("touser"), body.get("template_id")
    if not openid or not isinstance(openid, str):
        return _error(40003)
    if not template_id or not isinstance(body.get("data"), dict):
        return _error(47001)
    entry = fake.record(
        openid,
        "template",
        msgtype="template",
        template_id=template_id,
        data=body["data"],
        url=body.get("url"),
    )
    return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": entry["id"]})


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
    """``{openid | openids, time?, kind?}``: the buyer wrote (or followed/clicked) at `time`."""
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
    for openid in openids:
        fake.open_window(openid, when, kind)
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
    app.router.add_get("/cgi-bin/token", get_token)
    app.router.add_post("/cgi-bin/stable_token", post_stable_token)
    app.router.add_post("/cgi-bin/message/custom/send", custom_send)
    app.router.add_post("/cgi-bin/message/template/send", template_send)
    app.router.add_post("/_sim/interaction", sim_interaction)
    app.router.add_get("/_sim/messages", sim_messages)
    app.router.add_post("/_sim/faults", sim_faults)
    app.router.add_get("/_sim/stats", sim_stats)
    app.router.add_post("/_sim/reset", sim_reset)


def create_fake_wechat(
    clock: Clock | None = None,
    appid: str = "wx_fake_appid",
    secret: str = "fake_secret",
    *,
    open_windows: bool = False,
) -> web.Application:
    """The simulator as an aiohttp application; its state is ``app[FAKE]``."""
    app = web.Application()
    setup_routes(app, FakeWeChat(clock, appid, secret, open_windows=open_windows))
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
