"""The simulated Official Account behind the fake WeChat API: its state and its rules.

Tokens (a refetch leaves the previous one valid 5 more minutes), customer-service windows
(48 hours / 5 messages after a buyer's message, 1 minute / 3 after a follow, click or scan),
the log of accepted messages, the custom menu (checked like WeChat's ``menu/create``), and faults waiting to be injected. No HTTP here; the endpoints
are in ``demo/simulator/fake_wechat.py``. Every operation is O(1) (listing the log aside).
"""

from __future__ import annotations

import itertools
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from demo.simulator.fake_followers import FakeFollowers
from demo.simulator.fake_mass import FakeMass

TOKEN_TTL_S = 7200
# WeChat keeps the previous access_token working for 5 minutes after a new fetch.
OLD_TOKEN_GRACE = timedelta(minutes=5)
MESSAGE_WINDOW = timedelta(hours=48)
MESSAGE_WINDOW_QUOTA = 5
EVENT_WINDOW = timedelta(minutes=1)
EVENT_WINDOW_QUOTA = 3
EVENT_KINDS = frozenset({"follow", "subscribe", "click", "scan", "event"})

MEDIA_KEPT = 200  # uploaded images the simulator keeps in memory
MEDIA_MAX_BYTES = 10 * 1024 * 1024  # WeChat's limit for an image

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40027: "invalid sub button key size",
    40054: "invalid sub button url domain",
    40055: "invalid button url domain",
    46003: "menu no exist",
}


def _bytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _url_ok(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://")) and _bytes(url) <= 1024


def _check_action(item: dict[str, Any], sub: bool) -> int:
    kind = item.get("type")
    if kind == "click":
        key = item.get("key")
        return 0 if isinstance(key, str) and 0 < _bytes(key) <= 128 else (40027 if sub else 40019)
    if kind == "view":
        return 0 if _url_ok(item.get("url")) else (40054 if sub else 40055)
    return 40017


def check_menu(body: Any) -> int:
    """The errcode WeChat's ``menu/create`` answers for `body` (0: accepted)."""
    buttons = body.get("button") if isinstance(body, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if not isinstance(button, dict):
            return 47001
        name = button.get("name")
        if not isinstance(name, str) or not 0 < _bytes(name) <= 16:
            return 40018
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                return 40023
            for sub in subs:
                if not isinstance(sub, dict):
                    return 47001
                sname = sub.get("name")
                if not isinstance(sname, str) or not 0 < _bytes(sname) <= 60:
                    return 40025
                if code := _check_action(sub, True):
                    return code
        elif code := _check_action(button, False):
            return code
    return 0


# Category-library templates a service account typically has for Laoke's service notices.
DEMO_TEMPLATES = (
    {"template_id": "DEMO_TIER_CHANGE", "title": "会员等级变更通知", "primary_industry": "IT科技",
     "deputy_industry": "互联网|电子商务",
     "content": "会员等级：{{thing1.DATA}}\n生效时间：{{time2.DATA}}\n",
     "example": "会员等级：金卡会员\n生效时间：2026-05-18\n"},
    {"template_id": "DEMO_INBOX_REPLY", "title": "客服回复通知", "primary_industry": "IT科技",
     "deputy_industry": "互联网|电子商务",
     "content": "回复内容：{{thing1.DATA}}\n客服：{{thing2.DATA}}\n",
     "example": "回复内容：您好，已为您补发\n客服：客服小王\n"},
)  # fmt: skip


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
        account_type: str = "service",
    ) -> None:
        self.clock = clock or Clock()
        self.account_type = account_type
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
        # Uploaded temporary media: media_id → (content type, bytes); the newest MEDIA_KEPT.
        self.media: dict[str, tuple[str, bytes]] = {}
        self.menu: list[dict[str, Any]] | None = None  # the published custom menu
        # The account's template messages (template/get_all_private_template), typed fields.
        self.templates: list[dict[str, Any]] = [dict(t) for t in DEMO_TEMPLATES]
        self.token_fetches = 0
        self.calls = 0
        self._ids = itertools.count(1)
        # The account's followers and tags (user/get, batchget, tags/…), and faults for them.
        self.followers = FakeFollowers(self.clock)
        # Mass sends (message/mass/send); listeners of finished jobs survive a reset.
        listeners = self.mass.on_finish if hasattr(self, "mass") else []
        self.mass = FakeMass(self.account_type)
        self.mass.on_finish = listeners
        self.faults.errcodes["followers"] = deque()

    def store_media(self, content_type: str, data: bytes) -> str:
        """Keep an uploaded image; its media_id (the oldest is forgotten past MEDIA_KEPT)."""
        media_id = f"media_{next(self._ids)}_{len(data)}"
        self.media[media_id] = (content_type, data)
        while len(self.media) > MEDIA_KEPT:
            self.media.pop(next(iter(self.media)))
        return media_id

    # --- state changes tests and the chat simulator ask for -----------------------------
    def open_window(
        self,
        openid: str,
        when: datetime | None = None,
        kind: str = "message",
        scene: str | None = None,
    ) -> None:
        """Record a buyer interaction: a message opens 48 h / 5 messages, an event 1 min / 3.

        A follow (through QR `scene`, if any) also puts the buyer on the follower list; an
        unfollow takes them off it and opens nothing."""
        when = when or self.clock.now()
        if kind == "unfollow":
            self.followers.unfollow(openid)
            return
        if kind == "follow":
            self.followers.follow(openid, when, scene)
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
                raise ValueError(
                    f"on: expected one of {', '.join(self.faults.errcodes)}, not {on!r}"
                )
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

    def add_template(self, template_id: str, title: str, content: str = "") -> None:
        """A template added to the account (the MP backend's 模板库 → 添加), replacing one of the id."""
        self.templates = [t for t in self.templates if t["template_id"] != template_id]
        self.templates.append({"template_id": template_id, "title": title, "content": content})

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
