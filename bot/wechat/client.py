"""An asyncio client for the WeChat Official Account API over aiohttp.

Why not wechatpy's ``WeChatClient``: it is synchronous (requests) and would block the event
loop, it fetches the access_token from a hard-coded URL (ignoring ``API_BASE_URL``, so it
cannot be pointed at a simulator), and on 40001/40014/42001 it refetches and retries with no
limit. Here the base URL and timeout come from ``[wechat]``; the token is shared by every
process through ``bot/wechat/token_cache.py`` and refreshed at most once per call when WeChat
rejects it; -1 (busy) and 45009 (frequency limit) are retried with exponential backoff; any
other errcode is raised as :class:`WeChatAPIError` carrying it, and a call that got no answer
(network error, timeout, a non-JSON or 5xx answer) raises :class:`WeChatAPITimeout`, so
callers can tell "WeChat said no" from "we do not know".

It does not record outbound messages or decide channels (customer-service vs template):
callers do, because they know the purpose.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import WeChatConfig
from bot.logs import redact
from bot.metrics import Metrics
from bot.wechat.token_cache import TokenCache

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_ERRORS = frozenset({-1, 45009})


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode."""

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPITimeout(WeChatAPIError):
    """No usable answer (network error, timeout, bad HTTP answer): the call may be retried.

    The message may or may not have reached WeChat; ``errcode`` is None.
    """

    def __init__(self, errmsg: str) -> None:
        super().__init__(None, errmsg)


class WeChatAPI:
    """Customer-service and template messages, the custom menu, and the access_token."""

    def __init__(
        self,
        config: WeChatConfig,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        http: aiohttp.ClientSession,
        metrics: Metrics | None = None,
    ) -> None:
        self.config, self.sessionmaker, self.clock, self.http = config, sessionmaker, clock, http
        self.metrics = metrics
        self.base_url = config.api_base_url
        self.timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self.tokens = TokenCache(
            sessionmaker,
            clock,
            config.appid,
            self._fetch_token,
            margin_s=config.token_refresh_margin_s,
        )

    # --- public calls ---------------------------------------------------------------------
    async def get_access_token(self) -> str:
        """The shared access_token (fetched from WeChat only when none is fresh)."""
        return await self.tokens.get()

    async def send_text(self, openid: str, content: str) -> dict[str, Any]:
        """A customer-service text message (only inside the buyer's 48-hour window)."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        return await self._post("cgi-bin/message/custom/send", payload)

    async def send_image(self, openid: str, media_id: str) -> dict[str, Any]:
        """A customer-service image message (``media_id`` from :meth:`upload_image`)."""
        payload = {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}}
        return await self._post("cgi-bin/message/custom/send", payload)

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload a temporary image (``media/upload?type=image``, kept 3 days); its media_id."""

        def form() -> aiohttp.FormData:  # a FormData is consumed by one request
            body = aiohttp.FormData()
            body.add_field("media", data, filename=filename, content_type=content_type)
            return body

        answer = await self._post("cgi-bin/media/upload", None, form=form, query={"type": "image"})
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatAPITimeout(f"media/upload: no media_id in {answer!r:.100}")
        return media_id

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, Any], url: str | None = None
    ) -> dict[str, Any]:
        """A template message; `data` values may be plain strings or ``{"value": …}``."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: v if isinstance(v, dict) else {"value": v} for k, v in data.items()},
        }
        if url:
            payload["url"] = url
        return await self._post("cgi-bin/message/template/send", payload)

    async def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        """Publish the custom menu (``{"button": [...]}``); it reaches clients within minutes."""
        return await self._post("cgi-bin/menu/create", menu)

    async def get_menu(self) -> dict[str, Any]:
        """The menu in force (``get_current_selfmenu_info``: also one set in the MP backend)."""
        return await self._call("GET", "cgi-bin/get_current_selfmenu_info", None)

    async def delete_menu(self) -> dict[str, Any]:
        return await self._call("GET", "cgi-bin/menu/delete", None)

    async def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Any other API call (``bot/wechat/followers.py``, ``tags.py``), with the same token
        handling, busy retries and errors as the calls above."""
        return await self._call(method, path, payload, query=query)

    # --- plumbing -------------------------------------------------------------------------
    async def _fetch_token(self) -> tuple[str, int]:
        params = {
            "grant_type": "client_credential",
            "appid": self.config.appid,
            "secret": self.config.secret,
        }
        try:
            data = await self._with_busy_retries(
                lambda: self._request("GET", "cgi-bin/token", params)
            )
        except WeChatAPIError:
            self._count_fetch("error")
            raise
        self._count_fetch("ok")
        return data["access_token"], int(data.get("expires_in", 7200))

    async def _post(
        self, path: str, payload: dict[str, Any] | None, *, form=None, query=None
    ) -> dict[str, Any]:
        return await self._call("POST", path, payload, form=form, query=query)

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, *, form=None, query=None
    ) -> dict[str, Any]:
        token = await self.tokens.get()
        refreshed = False
        while True:
            try:
                return await self._with_busy_retries(
                    lambda t=token: self._request(
                        method, path, {"access_token": t, **(query or {})}, payload, form=form
                    )
                )
            except WeChatAPIError as exc:
                # Refresh once per call: a second rejection means something else is wrong
                # (wrong secret, revoked API rights), and looping would burn the daily quota.
                if exc.errcode not in TOKEN_ERRORS or refreshed:
                    raise
                refreshed = True
                token = await self.tokens.refresh(stale=token)

    async def _with_busy_retries(self, call) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await call()
            except WeChatAPIError as exc:
                if exc.errcode not in BUSY_ERRORS or attempt >= self.config.busy_retries:
                    raise
                delay = self.config.busy_backoff_s * (2**attempt)
                attempt += 1
                log.info("WeChat busy (%s); retry %d in %.2fs", exc.errcode, attempt, delay)
                await asyncio.sleep(delay)

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        payload: dict[str, Any] | None = None,
        *,
        form=None,
    ) -> dict[str, Any]:
        """One HTTP call; a dict with errcode 0 (or none), else WeChatAPIError/Timeout.
        `form` (a callable making aiohttp.FormData) sends multipart instead of JSON."""
        url = self.base_url + path
        if self.metrics is not None:
            self.metrics.api_calls.inc()
        body = {"data": form()} if form is not None else {"json": payload}
        try:
            async with self.http.request(
                method, url, params=params, timeout=self.timeout, **body
            ) as resp:
                if resp.status >= 400:
                    raise WeChatAPITimeout(f"HTTP {resp.status} from {path}")
                # WeChat answers JSON as text/plain; accept any content type.
                data = await resp.json(content_type=None)
        except WeChatAPITimeout:
            self._count("network")
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._count("network")
            # aiohttp's messages may carry the URL, and with it the access_token.
            raise WeChatAPITimeout(f"{path}: {type(exc).__name__}: {redact(str(exc))}") from exc
        if not isinstance(data, dict):
            self._count("network")
            raise WeChatAPITimeout(f"{path}: unexpected answer {data!r:.100}")
        code = data.get("errcode", 0)
        if code:
            self._count(str(code))
            raise WeChatAPIError(int(code), str(data.get("errmsg", "")))
        return data

    def _count_fetch(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.token_fetches.labels(result=result).inc()

    def _count(self, code: str) -> None:
        if self.metrics is not None:
            self.metrics.api_errors.labels(code=code).inc()
