"""The buyer chat simulator: a page where you chat with the bot as a buyer would in WeChat.

You pick a buyer from the database (or create one, which follows the account) and type.
Each message goes to the real webhook exactly as WeChat sends it: signed, and encrypted in
compat/safe mode, by ``demo/simulator/callback.py``. Before that the simulator tells the fake
WeChat (``demo/simulator/fake_wechat.py``) of the interaction, so the 48-hour window opens as it
would on WeChat. The passive reply shows at once; later pushes (customer-service, mass and
template messages the fake WeChat accepted for that buyer — staff replies from the 收件箱 included,
images shown as images) are polled from the fake and shown too. The menu is the one published
to the fake WeChat (``menu/create``, from the console), else the built-in ``MENU``; its buttons
send CLICK events (a link button a VIEW event, then opens it); follow/unfollow send the
subscribe/unsubscribe events.

It is an aiohttp application (``create_chat_app``) mounted by the demo under ``/chat``. It
deliberately talks to the webhook and the fake over HTTP only, never calls handlers directly,
and writes nothing to the database itself (the buyer list is read-only).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import WeChatConfig
from bot.database import create_engine, sessionmaker
from bot.dialog.rendering import TEMPLATES_DIR
from bot.models import Buyer, InboundMessage
from demo.simulator.callback import CallbackClient, CallbackSigner

# The menu the simulated account shows: (label, EventKey of the CLICK event). Features that
# handle a menu click use these keys; change both together.
MENU: tuple[tuple[str, str], ...] = (
    ("交换名片", "CARD"),
    ("会员权益", "MEMBERSHIP"),
    ("直播预告", "LIVE"),
    ("帮助", "HELP"),
)
# QR scenes offered when a new buyer follows (the EventKey after ``qrscene_``).
QR_SCENES: tuple[str, ...] = ("", "expo_2026", "store_flyer", "live_room", "wholesale_card")

OPENID_ALPHABET = string.ascii_letters + string.digits + "-_"
EVENTS = {"subscribe", "unsubscribe", "CLICK", "SCAN", "VIEW"}
# How the history shows what the buyer did, as a line of the chat rather than a protocol word.
EVENT_LINES = {
    "subscribe": "「关注了公众号」",
    "unsubscribe": "「取消了关注」",
    "CLICK": "「点了菜单」",
    "SCAN": "「扫了二维码」",
    "VIEW": "「打开了菜单链接」",
}
MESSAGE_LINES = {
    "image": "「发来一张图片」",
    "voice": "「发来一段语音」",
    "video": "「发来一段视频」",
    "location": "「发来一个位置」",
    "link": "「发来一个链接」",
}


def history_line(msg_type: str, event: str | None, content: str | None) -> str:
    """What the buyer sent, as the chat shows it."""
    if msg_type == "text":
        return content or ""
    if msg_type == "event":
        return EVENT_LINES.get(event or "", f"「{event or '事件'}」")
    return MESSAGE_LINES.get(msg_type, f"「{msg_type}」")


def new_openid() -> str:
    """An openid shaped like WeChat's (28 characters starting with ``o``)."""
    return "o" + "".join(secrets.choice(OPENID_ALPHABET) for _ in range(27))


@dataclass(frozen=True)
class ChatSettings:
    """Where the simulator sends messages and reads pushes, and as which account it signs."""

    webhook_url: str
    fake_wechat_url: str
    wechat: WeChatConfig
    database_url: str
    menu: tuple[tuple[str, str], ...] = MENU
    qr_scenes: tuple[str, ...] = QR_SCENES
    # Tier key → the name buyers see (金卡会员), from ``[tiers] levels``.
    tier_names: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def tier_names_of(config) -> dict[str, str]:
        """The tier names of a Config, for ``tier_names``."""
        return {level.key: level.name for level in config.tiers.levels}


class ChatSimulator:
    """Plays WeChat's servers for one buyer at a time."""

    def __init__(
        self,
        settings: ChatSettings,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.http = http
        # Sign with the same clock the webhook checks the replay window against.
        signer = CallbackSigner.from_config(settings.wechat, now=lambda: clock.now().timestamp())
        self.callbacks = CallbackClient(signer, http, settings.webhook_url)
        self.fake_url = settings.fake_wechat_url.rstrip("/") + "/"

    async def tell_fake_wechat(self, openid: str, kind: str, scene: str | None = None) -> None:
        """Open the buyer's customer-service window on the fake WeChat, as WeChat would (a
        follow or unfollow also changes its follower list)."""
        body = {"openid": openid, "kind": kind} | ({"scene": scene} if scene else {})
        async with self.http.post(self.fake_url + "_sim/interaction", json=body) as resp:
            resp.raise_for_status()

    async def send_text(self, openid: str, text: str) -> str | None:
        """The buyer types `text`; returns the passive reply (None when the bot answered `success`)."""
        await self.tell_fake_wechat(openid, "message")
        return await self.callbacks.send_text(openid, text)

    async def send_event(self, openid: str, event: str, key: str | None = None) -> str | None:
        """The buyer follows, unfollows, scans or clicks a menu button."""
        kind = {"subscribe": "follow", "CLICK": "click", "SCAN": "scan"}.get(event)
        if event == "unsubscribe":
            kind = "unfollow"
        if kind:
            scene = key.removeprefix("qrscene_") if kind == "follow" and key else None
            await self.tell_fake_wechat(openid, kind, scene)
        return await self.callbacks.send_event(openid, event, key)

    async def pushes(self, openid: str, since: int) -> dict[str, Any]:
        """Messages the fake WeChat accepted for the buyer after message id `since`."""
        async with self.http.get(
            self.fake_url + "_sim/messages", params={"openid": openid, "since": str(since)}
        ) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def media(self, media_id: str) -> tuple[bytes, str] | None:
        """An image the fake WeChat accepted (for a customer-service image message)."""
        async with self.http.get(self.fake_url + "_sim/media/" + quote(media_id, safe="")) as resp:
            if resp.status != 200:
                return None
            return await resp.read(), resp.content_type

    async def published_menu(self) -> dict[str, Any]:
        """The custom menu published to the fake WeChat (``{"button": []}`` when none)."""
        async with self.http.get(self.fake_url + "_sim/menu") as resp:
            resp.raise_for_status()
            return await resp.json()

    async def history(self, openid: str, limit: int = 30) -> list[dict[str, Any]]:
        """The buyer's last messages and events with the bot's replies, oldest first."""
        stmt = (
            select(InboundMessage)
            .where(InboundMessage.openid == openid)
            .order_by(InboundMessage.id.desc())
            .limit(limit)
        )
        async with self.sessions() as session:
            rows = (await session.scalars(stmt)).all()
        return [
            {
                "time": m.received_at.isoformat(),
                "text": history_line(m.msg_type, m.event, m.content),
                "reply": m.reply if m.reply not in (None, "", "success") else None,
            }
            for m in reversed(rows)
        ]

    async def buyers(self, query: str = "", limit: int = 100) -> list[dict[str, Any]]:
        """Buyers to chat as, most recently active first."""
        stmt = select(Buyer).order_by(Buyer.last_interaction_at.desc(), Buyer.id.desc())
        if query:
            like = f"%{query}%"
            stmt = stmt.where(
                or_(
                    Buyer.openid.like(like),
                    Buyer.display_name.like(like),
                    Buyer.company.like(like),
                )
            )
        async with self.sessions() as session:
            rows = (await session.scalars(stmt.limit(limit))).all()
        return [
            {
                "openid": b.openid,
                "name": b.display_name or "",
                "company": b.company or "",
                "tier": self.settings.tier_names.get(b.tier_key, b.tier_key) if b.tier_key else "",
                "tier_key": b.tier_key or "",
                "subscribed": b.subscribed,
                "last_interaction_at": (
                    b.last_interaction_at.isoformat() if b.last_interaction_at else None
                ),
            }
            for b in rows
        ]


SIMULATOR = web.AppKey("chat_simulator", ChatSimulator)
SETTINGS = web.AppKey("chat_settings", ChatSettings)
PAGES = web.AppKey("chat_pages", jinja2.Environment)


async def page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    html = (
        request.app[PAGES]
        .get_template("chat.html")
        .render(
            base=request.path.rstrip("/") + "/",
            menu=settings.menu,
            qr_scenes=settings.qr_scenes,
            mode=settings.wechat.encrypt_mode,
        )
    )
    return web.Response(text=html, content_type="text/html")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _exchange(call, **extra: Any) -> web.Response:
    """Run one webhook exchange; report a failing webhook to the page instead of a 500."""
    try:
        reply = await call
    except (AssertionError, aiohttp.ClientError) as exc:
        return web.json_response({"ok": False, "error": str(exc), **extra})
    return web.json_response({"ok": True, "reply": reply, **extra})


async def list_buyers(request: web.Request) -> web.Response:
    found = await request.app[SIMULATOR].buyers(request.query.get("q", "").strip())
    return web.json_response({"buyers": found})


async def create_buyer(request: web.Request) -> web.Response:
    """A new buyer follows the account (through a QR scene if one is given)."""
    body = await _body(request)
    scene = str(body.get("scene") or "")
    openid = new_openid()
    sim = request.app[SIMULATOR]
    key = f"qrscene_{scene}" if scene else None
    return await _exchange(sim.send_event(openid, "subscribe", key), openid=openid)


async def send_text(request: web.Request) -> web.Response:
    body = await _body(request)
    openid, text = body.get("openid"), body.get("text")
    if not isinstance(openid, str) or not openid or not isinstance(text, str) or not text:
        raise web.HTTPBadRequest(text="openid and text required")
    return await _exchange(request.app[SIMULATOR].send_text(openid, text))


async def send_event(request: web.Request) -> web.Response:
    body = await _body(request)
    openid, event, key = body.get("openid"), body.get("event"), body.get("key")
    if not isinstance(openid, str) or not openid or event not in EVENTS:
        raise web.HTTPBadRequest(text=f"openid and event (one of {sorted(EVENTS)}) required")
    return await _exchange(request.app[SIMULATOR].send_event(openid, event, key or None))


async def pushes(request: web.Request) -> web.Response:
    openid = request.query.get("openid", "")
    try:
        since = int(request.query.get("since") or 0)
    except ValueError:
        raise web.HTTPBadRequest(text="since: expected a message id") from None
    if not openid:
        raise web.HTTPBadRequest(text="openid required")
    try:
        return web.json_response(await request.app[SIMULATOR].pushes(openid, since))
    except aiohttp.ClientError as exc:
        return web.json_response({"messages": [], "last_id": since, "error": str(exc)})


async def media(request: web.Request) -> web.Response:
    try:
        found = await request.app[SIMULATOR].media(request.match_info["media_id"])
    except aiohttp.ClientError:
        found = None
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[0], content_type=found[1])


async def history(request: web.Request) -> web.Response:
    openid = request.query.get("openid", "")
    if not openid:
        raise web.HTTPBadRequest(text="openid required")
    return web.json_response({"messages": await request.app[SIMULATOR].history(openid)})


async def published_menu(request: web.Request) -> web.Response:
    try:
        return web.json_response(await request.app[SIMULATOR].published_menu())
    except aiohttp.ClientError as exc:
        return web.json_response({"button": [], "error": str(exc)})


def create_chat_app(settings: ChatSettings, *, clock: Clock | None = None) -> web.Application:
    """The chat simulator as an aiohttp application (mount it with ``add_subapp``)."""
    app = web.Application()
    app[SETTINGS] = settings
    app[PAGES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "pages"), autoescape=True
    )

    async def services(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            app[SIMULATOR] = ChatSimulator(settings, sessionmaker(engine), http, clock or Clock())
            yield
        await engine.dispose()

    app.cleanup_ctx.append(services)
    app.router.add_get("/", page)
    app.router.add_get("/api/buyers", list_buyers)
    app.router.add_post("/api/buyers", create_buyer)
    app.router.add_post("/api/send", send_text)
    app.router.add_post("/api/event", send_event)
    app.router.add_get("/api/pushes", pushes)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/media/{media_id}", media)
    app.router.add_get("/api/menu", published_menu)
    return app
