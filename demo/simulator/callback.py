"""WeChat's side of the callback protocol: signed requests to the webhook and decoded replies.

Used by the tests, the webhook benchmark and the buyer chat simulator page to talk to the real
webhook exactly as WeChat's servers do: the GET verification, and POSTs in plain, compatible
and safe (AES) mode, signed with the account's token and encrypted with wechatpy's
``WeChatCrypto``. :class:`CallbackSigner` only builds and reads bytes (no I/O);
:class:`CallbackClient` sends them through an aiohttp client (a ``ClientSession`` or
pytest-aiohttp's ``TestClient``).

This module deliberately does not protect against hostile XML: it only reads replies from our
own server. It does not simulate WeChat's retries either; tests send the same bytes twice.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable
from typing import Any, Literal
from xml.etree import ElementTree

from wechatpy.crypto import WeChatCrypto

from bot.clock import Clock

Mode = Literal["plain", "compat", "safe"]
Params = dict[str, str]


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted, concatenated parts, lower-case hex."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(value: str) -> str:
    # A CDATA section cannot contain "]]>": split it across two sections, as WeChat does.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any]) -> str:
    """Render a flat WeChat message (strings in CDATA, numbers bare) as WeChat does."""
    nodes = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, int | float):
            nodes.append(f"<{name}>{value}</{name}>")
        else:
            nodes.append(f"<{name}>{_cdata(str(value))}</{name}>")
    return "<xml>" + "".join(nodes) + "</xml>"


class CallbackSigner:
    """Builds signed callback requests for one Official Account, as WeChat's servers would.

    ``now`` returns epoch seconds; pass a fake clock's time in tests so the webhook's replay
    window agrees with the signer."""

    def __init__(
        self,
        token: str,
        appid: str,
        aes_key: str = "",
        mode: Mode = "plain",
        *,
        account: str = "gh_laoke_test",
        now: Callable[[], float] | None = None,
    ) -> None:
        if now is None:
            clock = Clock()
            now = lambda: clock.now().timestamp()  # noqa: E731
        if mode != "plain" and len(aes_key) != 43:
            raise ValueError("compat and safe mode need the 43-character EncodingAESKey")
        self.token, self.appid, self.mode, self.account, self.now = token, appid, mode, account, now
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None
        self._msg_ids = itertools.count(secrets.randbits(40) + 10**15)

    @classmethod
    def from_config(
        cls, wechat_config: Any, mode: Mode | None = None, **kwargs: Any
    ) -> CallbackSigner:
        """A signer for the account a ``WeChatConfig`` describes (its mode unless overridden)."""
        return cls(
            wechat_config.token,
            wechat_config.appid,
            wechat_config.encoding_aes_key,
            mode or wechat_config.encrypt_mode,
            **kwargs,
        )

    # --- requests -----------------------------------------------------------------------
    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def query(self, timestamp: int | None = None, nonce: str | None = None) -> Params:
        """The query string of a plain POST (or of a GET without echostr)."""
        ts = str(int(self.now()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(5)
        return {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    def verification(self, echostr: str = "laoke-echo") -> Params:
        """The GET WeChat sends when the URL is configured; the server must echo `echostr`."""
        return {**self.query(), "echostr": echostr}

    def post(
        self, fields: dict[str, Any], *, timestamp: int | None = None, nonce: str | None = None
    ) -> tuple[Params, bytes]:
        """Sign (and in compat/safe mode encrypt) a message given as its XML fields."""
        params = self.query(timestamp, nonce)
        params["openid"] = str(fields.get("FromUserName", ""))
        plain = message_xml({"ToUserName": self.account, **fields})
        if self.mode == "plain":
            return params, plain.encode()
        assert self.crypto is not None
        envelope = ElementTree.fromstring(
            self.crypto.encrypt_message(plain, params["nonce"], params["timestamp"])
        )
        encrypt = envelope.findtext("Encrypt") or ""
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sign(self.token, params["timestamp"], params["nonce"], encrypt)
        if self.mode == "safe":
            body = message_xml({"ToUserName": self.account, "Encrypt": encrypt})
        else:  # compat: the plain fields and the ciphertext side by side
            body = plain[: -len("</xml>")] + f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        return params, body.encode()

    def text(
        self,
        openid: str,
        content: str,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> tuple[Params, bytes]:
        """A text message from `openid`; a fresh MsgId unless one is given."""
        return self.post(
            {
                "FromUserName": openid,
                "CreateTime": int(self.now()) if create_time is None else create_time,
                "MsgType": "text",
                "Content": content,
                "MsgId": self.next_msg_id() if msg_id is None else msg_id,
            }
        )

    def event(
        self,
        openid: str,
        event: str,
        key: str | None = None,
        create_time: int | None = None,
        **extra: Any,
    ) -> tuple[Params, bytes]:
        """An event (subscribe, unsubscribe, SCAN, CLICK, VIEW, LOCATION …) from `openid`."""
        return self.post(
            {
                "FromUserName": openid,
                "CreateTime": int(self.now()) if create_time is None else create_time,
                "MsgType": "event",
                "Event": event,
                "EventKey": key,
                **extra,
            }
        )

    def message(self, openid: str, msg_type: str, msg_id: int | None = None, **extra: Any):
        """Any other message type (image, voice, location, link …) with its own fields."""
        return self.post(
            {
                "FromUserName": openid,
                "CreateTime": int(self.now()),
                "MsgType": msg_type,
                **extra,
                "MsgId": self.next_msg_id() if msg_id is None else msg_id,
            }
        )

    # --- replies ------------------------------------------------------------------------
    def parse_reply(self, body: bytes | str) -> dict[str, str] | None:
        """The reply's fields (``{"MsgType": "text", "Content": …}``), or None for `success`/empty.

        An encrypted reply is checked (MsgSignature) and decrypted; a reply that fails either
        check raises wechatpy's InvalidSignatureException."""
        text = body.decode() if isinstance(body, bytes) else body
        if text.strip() in ("", "success"):
            return None
        root = ElementTree.fromstring(text)
        encrypt = root.findtext("Encrypt")
        if encrypt is not None:
            assert self.crypto is not None, "encrypted reply but no AES key"
            plain = self.crypto.decrypt_message(
                {"Encrypt": encrypt},
                root.findtext("MsgSignature"),
                root.findtext("TimeStamp"),
                root.findtext("Nonce"),
            )
            root = ElementTree.fromstring(plain)
        return {child.tag: child.text or "" for child in root}


class CallbackClient:
    """Sends signed callbacks to a webhook and returns the decoded replies.

    `http` is anything with aiohttp's ``get``/``post`` (a ``ClientSession`` with a full
    `url`, or pytest-aiohttp's ``TestClient`` with a path). Events get a CreateTime one second
    after the buyer's previous event when the clock has not moved, so two events sent in one
    test are not taken for a retry of each other (events are deduplicated by sender+CreateTime).
    """

    def __init__(
        self, signer: CallbackSigner, http: Any, url: str = "/wechat", *, app: Any = None
    ) -> None:
        self.signer, self.http, self.url = signer, http, url
        # The aiohttp application under test, when there is one (its state for assertions).
        self.app = app
        self._last_event_time: dict[str, int] = {}
        self.last_status: int | None = None

    @property
    def services(self) -> Any:
        """The app's Services (renderer, api, clock, config) — tests only."""
        from bot.appkeys import SERVICES

        return self.app[SERVICES]

    @property
    def sessionmaker(self) -> Any:
        """The app's sessionmaker, to assert on what was stored — tests only."""
        from bot.appkeys import SESSIONMAKER

        return self.app[SESSIONMAKER]

    async def request(self, params: Params, body: bytes) -> tuple[int, bytes]:
        """POST prepared bytes; returns the status and the raw answer (for retries, bad input)."""
        async with self.http.post(
            self.url, params=params, data=body, headers={"Content-Type": "text/xml"}
        ) as resp:
            self.last_status = resp.status
            return resp.status, await resp.read()

    async def exchange(self, params: Params, body: bytes) -> str | None:
        """POST prepared bytes and decode the reply; anything but 200 raises AssertionError."""
        status, answer = await self.request(params, body)
        if status != 200:
            raise AssertionError(f"webhook answered {status}: {answer[:200]!r}")
        reply = self.signer.parse_reply(answer)
        if reply is None:
            return None
        return reply.get("Content", reply.get("MsgType"))

    async def send_text(self, openid: str, content: str, msg_id: int | None = None) -> str | None:
        """Send a text as the buyer; returns the reply text, or None for `success`."""
        return await self.exchange(*self.signer.text(openid, content, msg_id=msg_id))

    async def send_event(
        self, openid: str, event: str, key: str | None = None, **extra: Any
    ) -> str | None:
        """Send an event as the buyer (``subscribe``, ``CLICK`` with `key` …)."""
        create_time = extra.pop("create_time", None)
        if create_time is None:
            create_time = max(int(self.signer.now()), self._last_event_time.get(openid, 0) + 1)
        self._last_event_time[openid] = create_time
        return await self.exchange(
            *self.signer.event(openid, event, key, create_time=create_time, **extra)
        )

    async def send_message(self, openid: str, msg_type: str, **fields: Any) -> str | None:
        """Send any other message type (image, location, link …) with its XML fields."""
        return await self.exchange(*self.signer.message(openid, msg_type, **fields))

    async def verify(self, echostr: str = "laoke-echo") -> tuple[int, str]:
        """The URL verification GET; returns the status and the body."""
        async with self.http.get(self.url, params=self.signer.verification(echostr)) as resp:
            return resp.status, await resp.text()
