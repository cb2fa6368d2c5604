"""The webhook: WeChat's callback protocol over aiohttp (GET verification, POSTed messages).

One POST goes: query signature and replay window (403) → size (413) and a body that arrives
within ``body_timeout_s`` (408, connection closed) → safe XML and, in the
encrypted modes, ``msg_signature`` and decryption (403 when not authentic, `success` when
unreadable) → for an unencrypted body, the nonce record (``bot/inbound/nonces.py``: a signed query
reused with another body is 403) → exactly-once handling within the reply budget (``bot/inbound/handling.py``) → the
answer, encrypted when the request was.

Nothing a sender does reaches a 5xx: errors past authentication are logged and answered with
`success` (or, when a handler fails, a short apology from ``messages/sorry.j2``). A message
the database cannot store is kept in the spool (``bot/inbound/spool.py``) and answered `success`; a
background task here hands spooled messages back to the handling once the database answers.
Only when the spool cannot be written either is WeChat answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.messages import BaseMessage

from bot.appkeys import CLOCK, CONFIG, ENGINE, METRICS
from bot.database import unavailable
from bot.dialog.context import TRANSFER_TO_KF
from bot.inbound import parse as inbound
from bot.inbound.handling import Handling, NotStored
from bot.inbound.nonces import PRUNE_EVERY, body_digest, prune, use_query
from bot.inbound.signature import verify_query
from bot.inbound.spool import Spool, SpoolError
from bot.logs import Outage, mask_openid

log = logging.getLogger("laoke.webhook")

SUCCESS = "success"
SPOOL_POLL_S = 1.0  # how often the spool is looked at for messages to hand back
REFUSALS_BEFORE_SET_ASIDE = 3


class Webhook:
    """Per-application state of the webhook: the account's crypto and the message handling."""

    def __init__(self, app: web.Application) -> None:
        self.config = app[CONFIG]
        wechat = self.config.wechat
        self.crypto = (
            WeChatCrypto(wechat.token, wechat.encoding_aes_key, wechat.appid)
            if wechat.encoding_aes_key
            else None
        )
        self.clock = app[CLOCK]
        self.budget = self.config.server.reply_budget_s
        self.handling = Handling(app)
        self.engine = app[ENGINE]
        self.metrics = app[METRICS]
        self.spool = Spool(Path(self.config.server.spool_dir))
        self._refused: dict[Path, int] = {}  # spooled files refused while the database answered
        self._pruned_at: datetime | None = None  # when this process last pruned the nonce record

    def open(self, body: bytes, query: Any) -> tuple[Any, bool]:
        """The message in the body and whether it came encrypted (raises inbound errors)."""
        root, encrypted = self._document(body, query)
        return inbound.to_message(root), encrypted

    def _document(self, body: bytes, query: Any) -> tuple[Any, bool]:
        """The message's XML element, decrypted in the encrypted modes."""
        mode = self.config.wechat.encrypt_mode
        encrypted = query.get("encrypt_type") == "aes" and mode != "plain"
        if mode == "safe" and not encrypted:
            raise inbound.Unauthentic("safe mode accepts encrypted messages only")
        root = inbound.read_document(body)
        if encrypted:
            assert self.crypto is not None  # config requires the key outside plain mode
            inner = inbound.decrypt(
                self.crypto,
                inbound.read_fields(root),
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
            )
            root = inbound.read_document(inner)  # the inner document is checked just the same
        return root, encrypted

    # --- the nonce record -------------------------------------------------------------
    async def first_use(self, query: Mapping[str, str], body: bytes) -> bool:
        """Whether this signed query is used with this body only (see ``bot/inbound/nonces.py``).

        A query is accepted while its timestamp is within the window of now, so one seen at
        ``seen_at`` may come back until ``seen_at + 2 × window``: rows are kept that long.
        When the database cannot record the use, the message goes on (to the spool, as the
        database is down): the spool keeps buyers' messages through an outage, and during
        one a reused query cannot be told from a new one."""
        window = self.config.wechat.replay_window_s
        if not window:
            return True
        now = self.clock.now()
        writer = self.handling.writer
        try:
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                await writer.run(partial(prune, before=now - timedelta(seconds=2 * window)))
            return await writer.run(
                partial(use_query, signature=query["signature"], digest=body_digest(body), now=now)
            )
        except Exception as exc:
            log.warning("nonce not recorded (%s: %s); message let through", type(exc).__name__, exc)
            return True

    # --- the spool ----------------------------------------------------------------------
    async def keep(
        self, body: bytes, query: Any, message: BaseMessage, why: NotStored
    ) -> web.Response:
        """Spool a message the database could not store, and answer `success` for it."""
        openid = mask_openid(str(message.source))
        xml = ElementTree.tostring(self._document(body, query)[0], encoding="unicode")
        try:
            await asyncio.to_thread(self.spool.put, xml)
        except SpoolError as exc:
            log.error(
                "database and spool both unavailable; answered 503 (%s; %s)",
                why,
                exc,
                extra={"fields": {"openid": openid}},
            )
            return web.Response(status=503, text="unavailable")
        self.metrics.spooled.inc()
        log.warning(
            "database unavailable; message spooled (%s)", why, extra={"fields": {"openid": openid}}
        )
        return web.Response(text=SUCCESS)

    async def replay_spool(self) -> int:
        """Hand spooled messages, oldest first, to the handling; returns how many were stored.

        Stops at the first message the database still cannot store, unless the database
        answers: then that message may be the problem (it can never be stored), and after
        ``REFUSALS_BEFORE_SET_ASIDE`` rounds it is set aside for a human instead of blocking
        the rest."""
        pending = await asyncio.to_thread(self.spool.pending)
        self.metrics.spool_pending.set(len(pending))
        if not pending:  # the usual round: one look at an empty folder
            return 0
        handled = await self._hand_back(pending)
        if handled:
            log.info("handled %d spooled messages", handled)
        self.metrics.spool_pending.set(len(await asyncio.to_thread(self.spool.pending)))
        return handled

    async def _hand_back(self, pending: list[Path]) -> int:
        handled = 0
        for path in pending:
            xml = await asyncio.to_thread(self.spool.read, path)
            if xml is None:  # another process took it
                continue
            try:
                message = inbound.to_message(xml)
                await self.handling.handle(message, asyncio.get_running_loop().time(), late=True)
            except inbound.Unreadable as exc:
                bad = await asyncio.to_thread(self.spool.set_aside, path)
                log.error("spooled file is not a message (%s); kept as %s", exc, bad)
                continue
            except NotStored as exc:
                if await unavailable(self.engine) is not None:
                    return handled  # still down: next round
                # The database answers, yet this message was refused: once may be the
                # database coming back; three times in a row is the message.
                self._refused[path] = refused = self._refused.get(path, 0) + 1
                if refused < REFUSALS_BEFORE_SET_ASIDE:
                    continue
                del self._refused[path]
                bad = await asyncio.to_thread(self.spool.set_aside, path)
                log.error("spooled message cannot be stored (%s); kept as %s", exc, bad)
                continue
            self._refused.pop(path, None)
            await asyncio.to_thread(self.spool.done, path)
            handled += 1
        return handled

    async def _replaying(self) -> None:
        outage = Outage(log, "spool replay")
        while True:
            try:
                await self.replay_spool()
            except Exception:
                outage.failed()
            else:
                outage.ok()
            await asyncio.sleep(SPOOL_POLL_S)

    # --- handling ---------------------------------------------------------------------
    def render(
        self, text: str | None, message: BaseMessage, encrypted: bool, nonce: str
    ) -> web.Response:
        if text is None:
            return web.Response(text=SUCCESS)
        now = int(self.clock.now().timestamp())
        if text == TRANSFER_TO_KF:
            xml = transfer_reply(to=message.source, sender=message.target, create_time=now)
        else:
            xml = text_reply(to=message.source, sender=message.target, create_time=now, text=text)
        if encrypted:
            assert self.crypto is not None
            xml = self.crypto.encrypt_message(xml, nonce, str(now))
        return web.Response(text=xml, content_type="application/xml")


def _cdata(value: str) -> str:
    # A "]]>" inside would end the section early: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(*, to: str, sender: str, create_time: int, text: str) -> str:
    """The passive text reply, as wechatpy's TextReply renders it but with every CDATA
    section escaped (wechatpy escapes none) and without building a reply object per message."""
    return (
        f"<xml>\n<ToUserName>{_cdata(str(to))}</ToUserName>\n"
        f"<FromUserName>{_cdata(str(sender))}</FromUserName>\n"
        f"<CreateTime>{create_time}</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
        f"<Content>{_cdata(text)}</Content>\n</xml>"
    )


def transfer_reply(*, to: str, sender: str, create_time: int) -> str:
    """The passive reply that hands the message to WeChat's customer-service system."""
    return (
        f"<xml>\n<ToUserName>{_cdata(str(to))}</ToUserName>\n"
        f"<FromUserName>{_cdata(str(sender))}</FromUserName>\n"
        f"<CreateTime>{create_time}</CreateTime>\n"
        "<MsgType><![CDATA[transfer_customer_service]]></MsgType>\n</xml>"
    )


WEBHOOK = web.AppKey("webhook", Webhook)


def _check_query(request: web.Request) -> None:
    config = request.app[CONFIG]
    reason = verify_query(
        request.query,
        config.wechat.token,
        request.app[CLOCK].now().timestamp(),
        config.wechat.replay_window_s,
    )
    if reason is not None:
        log.warning("refused callback: %s", reason, extra={"fields": {"ip": request.remote}})
        raise web.HTTPForbidden(text="forbidden")


async def verify(request: web.Request) -> web.Response:
    """GET: WeChat checks the URL; echo `echostr` when the signature is right."""
    _check_query(request)
    return web.Response(text=request.query.get("echostr", ""))


async def receive(request: web.Request) -> web.Response:
    """POST: one message or event from WeChat."""
    hook = request.app[WEBHOOK]
    deadline = asyncio.get_running_loop().time() + hook.budget
    _check_query(request)
    limit = hook.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    try:
        async with asyncio.timeout(hook.config.server.body_timeout_s):
            body = await request.read()  # aiohttp answers 413 itself past client_max_size
    except TimeoutError:
        return await _too_slow(request, hook.config.server.body_timeout_s)
    try:
        message, encrypted = hook.open(body, request.query)
    except inbound.Unauthentic as exc:
        log.warning("refused callback: %s", exc, extra={"fields": {"ip": request.remote}})
        raise web.HTTPForbidden(text="forbidden") from None
    except inbound.Unreadable as exc:
        log.warning("unreadable callback answered with success: %s", exc)
        return web.Response(text=SUCCESS)
    if not encrypted and not await hook.first_use(request.query, body):
        log.warning(
            "refused callback: signed query reused with another body",
            extra={"fields": {"ip": request.remote}},
        )
        raise web.HTTPForbidden(text="forbidden")
    try:
        text = await hook.handling.handle(message, deadline)
    except NotStored as exc:
        return await hook.keep(body, request.query, message, exc)
    except inbound.Unreadable as exc:
        log.warning("unreadable callback answered with success: %s", exc)
        return web.Response(text=SUCCESS)
    except Exception:
        log.exception(
            "callback failed; answered success",
            extra={"fields": {"openid": mask_openid(str(message.source))}},
        )
        return web.Response(text=SUCCESS)
    return hook.render(text, message, encrypted, request.query.get("nonce", ""))


async def _too_slow(request: web.Request, limit: float) -> web.StreamResponse:
    """Answer 408 to a body that did not arrive in time, and close the connection at once
    (aiohttp would otherwise keep reading the rest of the body for a while)."""
    log.warning(
        "callback body not received within %s s; answered 408 and closed",
        limit,
        extra={"fields": {"ip": request.remote}},
    )
    response = web.Response(status=408, text="request timeout")
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


async def _webhook_ctx(app: web.Application) -> AsyncIterator[None]:
    hook = app[WEBHOOK] = Webhook(app)
    hook.spool.prepare()  # a spool folder that cannot be created stops the start
    hook.handling.writer.start()
    replaying = asyncio.create_task(hook._replaying(), name="spool-replay")
    yield
    replaying.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await replaying
    await hook.handling.close()


def _observed(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """`handler`, with its answer counted by status and timed (the alert rules read these)."""

    async def observe(request: web.Request) -> web.StreamResponse:
        metrics, started, status = request.app[METRICS], time.perf_counter(), "500"
        try:
            response = await handler(request)
            status = str(response.status)
            return response
        except web.HTTPException as exc:
            status = str(exc.status)
            raise
        except asyncio.CancelledError:
            status = "499"  # the client went away first
            raise
        finally:
            metrics.webhook_responses.labels(status=status).inc()
            metrics.webhook_seconds.observe(time.perf_counter() - started)

    return observe


def setup(app: web.Application) -> None:
    """Route the webhook path (GET and POST) and attach the webhook state to the app."""
    path = app[CONFIG].server.webhook_path
    app.router.add_get(path, _observed(verify))
    app.router.add_post(path, _observed(receive))
    app.cleanup_ctx.append(_webhook_ctx)
