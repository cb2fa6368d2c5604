"""Handling one authentic message exactly once, within the reply budget.

The claim (inbound row + buyer upsert) is committed before the handler runs, so every process
sees it at once and no write lock is held while a handler works; a retry that finds the claim
taken waits for the owner's outcome (``bot/inbound/dedup.py``). Claims and outcomes go through the
group-commit writer (``bot/inbound/groupcommit.py``), many messages per transaction. A handler works
in ``ctx.session``; if it wrote anything, the outcome is stored in that same transaction and
committed with it — the handler's writes, the inbound outcome and the outbound record land
together or not at all. Messages of one buyer are handled one at a time per process, in
arrival order. A handler past the budget gets `success` answered for it; its reply goes out
later through the customer-service API.

Its parts live beside it: the per-buyer turns (``bot/inbound/turns.py``), the reply
deadline (``bot/inbound/deadline.py``) and the outcome store (``bot/inbound/outcomes.py``);
this module holds the order they run in. It knows nothing of HTTP, XML or crypto
(``bot/inbound/webhook.py`` does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import web
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from wechatpy.messages import BaseMessage

from bot.appkeys import CLOCK, CONFIG, DISPATCHER, ENGINE, METRICS, SERVICES, SESSIONMAKER
from bot.dialog.context import Context
from bot.inbound.buyers import NOT_INTERACTIONS, buyer_from_row, touch_buyer
from bot.inbound.deadline import within
from bot.inbound.dedup import (
    Stored,
    mark_deferred,
    poll_reply,
    record_inbound,
    take_over,
)
from bot.inbound.groupcommit import GroupCommit
from bot.inbound.outcomes import Outcomes, handler_sessionmaker
from bot.inbound.record import Inbound, read_inbound
from bot.inbound.turns import BuyerTurns
from bot.logs import mask_openid
from bot.models import Buyer

log = logging.getLogger("laoke.webhook")

# How long a stopping server waits for handlers still running (their replies go by API).
DRAIN_S = 10.0
ABANDON_GRACE_S = 1.0


class NotStored(Exception):
    """The claim could not be written (the database is unavailable): nothing of the message
    is stored, so answering `success` now would lose it (the webhook spools it instead)."""


@dataclass
class Job:
    """One claimed message on its way through a handler."""

    inbound_id: int
    key: str
    record: Inbound
    buyer_row: dict[str, Any]
    stale: bool = False
    # Set when WeChat was answered `success` because the budget ran out.
    deferred: bool = False
    # Set once the reply is being committed: past this point it is answered, not deferred.
    committing: bool = False
    done: asyncio.Future[str | None] = field(default_factory=asyncio.Future)


class Handling:
    """Per-application state: the writer, messages in flight, buyers' turns, late tasks."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.clock = app[CLOCK]
        self.metrics = app[METRICS]
        self.sessionmaker = app[SESSIONMAKER]
        self.handler_sessions = handler_sessionmaker(app[ENGINE])
        self.services = app[SERVICES]
        self.budget = app[CONFIG].server.reply_budget_s
        # A claim still `processing` (not deferred) this long after it was made has lost its
        # owner: alive, it would have answered or marked the message deferred at its budget.
        self.abandon_after = timedelta(seconds=self.budget + ABANDON_GRACE_S)
        self.writer = GroupCommit(app[ENGINE])
        self.outcomes = Outcomes(self.writer, self.clock, self.services)
        self.in_flight: dict[str, Job] = {}
        self.turns = BuyerTurns()
        self.tasks: set[asyncio.Task] = set()
        # Metric children by label value: ``.labels()`` is a locked lookup on every call.
        self._messages_by_kind: dict[str, Any] = {}
        self._seconds_by_handler: dict[str, Any] = {}

    async def handle(
        self, message: BaseMessage, deadline: float, *, late: bool = False
    ) -> str | None:
        """The reply text for one authentic message (None = `success`), exactly once.

        Raises NotStored when the claim cannot be written. `late`: a message from the spool,
        for which WeChat got `success` long ago: it is handled to the end and its reply goes
        out through the customer-service API (None is returned)."""
        record = read_inbound(message)
        openid, key, event_name = record.openid, record.dedup_key, record.event
        now = self.clock.now()
        buyer = dict(
            openid=openid,
            now=now,
            interaction=event_name not in NOT_INTERACTIONS,
            subscribed=_subscription(event_name),
            qr_scene=record.scene,
        )
        sent_at = record.created_at
        if late:  # the 48-hour window opened when WeChat received it, not at the replay
            buyer["interaction_at"] = min(sent_at, now) if sent_at else now
        claim = partial(
            _claim,
            inbound=dict(
                dedup_key=key,
                openid=openid,
                msg_type=record.msg_type,
                event=event_name,
                content=record.content,
                wechat_created_at=sent_at,
                now=now,
            ),
            buyer=buyer,
        )
        inbound_id, buyer_row = await self._store(claim)
        if inbound_id is None:
            self.metrics.dedup_hits.inc()
            stored = await self.replay(key, deadline, abandoned_before=now - self.abandon_after)
            if stored.abandoned is None:
                return None if late else stored.reply
            inbound_id, buyer_row = await self._store(
                partial(_take_over, abandoned=stored.abandoned, now=now, buyer=buyer)
            )
            if inbound_id is None:  # another retry took it over first
                return (await self.replay(key, deadline)).reply
            log.warning(
                "took over a message whose handler was lost",
                extra={"fields": {"openid": mask_openid(openid), "key": key}},
            )
        # Label values stay a known set: anything wechatpy does not know counts as "unknown".
        kind = event_name or record.msg_type if record.known else "unknown"
        counter = self._messages_by_kind.get(kind)
        if counter is None:
            counter = self._messages_by_kind[kind] = self.metrics.messages.labels(type=kind)
        counter.inc()

        # Another message of this buyer is being handled: its writes may land after this row
        # was read, so the handler re-reads the row when its turn comes.
        job = Job(inbound_id, key, record, buyer_row, stale=openid in self.turns)
        self.in_flight[key] = job
        if late:
            # The reply goes by API. The row is not marked deferred before the outcome: if
            # this process dies meanwhile, the next replay finds the claim abandoned and
            # takes it over.
            job.deferred = True
        if not record.known:  # nothing to route: record it and answer `success`
            task = asyncio.create_task(self.finish(job, None, None, "unknown", "done"))
        else:
            task = asyncio.create_task(self.run(job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if late:
            await asyncio.shield(task)
            return None
        loop = asyncio.get_running_loop()
        try:
            return await within(task, deadline, loop)
        except TimeoutError:
            if job.committing:  # the reply is being stored right now: answer it
                return await asyncio.shield(task)
            job.deferred = True
            self.metrics.deferred_replies.inc()
            if not job.done.done():
                job.done.set_result(None)
            log.warning(
                "handler missed the reply budget; answering success, reply goes by API",
                extra={"fields": {"openid": mask_openid(openid), "budget_s": self.budget}},
            )
            await self.writer.run(partial(mark_deferred, inbound_id=inbound_id))
            return None

    async def _store(self, claim: Any) -> tuple[int | None, dict[str, Any] | None]:
        """Run a claim (or takeover) in the writer; NotStored if the database refused it."""
        try:
            return await self.writer.run(claim)
        except Exception as exc:
            raise NotStored(f"{type(exc).__name__}: {exc}") from exc

    async def run(self, job: Job) -> str | None:
        """Dispatch one claimed message in the handler's session and store its outcome."""
        async with self.turns.turn(job.record.openid) as waited:
            buyer = buyer_from_row(job.buyer_row)
            # The session is opened on first use of ctx.session: most messages only render a
            # reply, and a session (created, buyer added, closed) is a good part of their cost.
            ctx = Context(
                message=job.record.message,
                buyer=buyer,
                services=self.services,
                open_session=partial(self._open_session, buyer),
            )
            try:
                if waited or job.stale:  # read before an earlier message's handler committed
                    await ctx.session.refresh(buyer)
                started = time.perf_counter()
                try:
                    reply, name = await self.app[DISPATCHER].dispatch(ctx)
                    text, status = reply.text, "done"
                except Exception:
                    log.exception(
                        "handler failed",
                        extra={"fields": {"openid": mask_openid(buyer.openid), "key": job.key}},
                    )
                    if ctx.opened_session is not None:
                        await ctx.opened_session.rollback()
                    text, name, status = self.outcomes.apology(), "error", "failed"
                histogram = self._seconds_by_handler.get(name)
                if histogram is None:
                    histogram = self.metrics.handler_seconds.labels(handler=name)
                    self._seconds_by_handler[name] = histogram
                histogram.observe(time.perf_counter() - started)
                if status == "done" and ctx.opened_session is None and inspect(buyer).modified:
                    ctx.session  # noqa: B018 - the buyer was changed: open, so it is committed
                return await self.finish(job, ctx.opened_session, text, name, status)
            finally:
                if ctx.opened_session is not None:
                    await ctx.opened_session.close()

    def _open_session(self, buyer: Buyer) -> AsyncSession:
        session = self.handler_sessions()
        session.add(buyer)  # persistent with no query; changes made so far are kept
        return session

    async def finish(
        self, job: Job, session: AsyncSession | None, text: str | None, name: str, status: str
    ) -> str | None:
        """Store the outcome (with the handler's writes, if any); send late replies by API."""
        openid = job.record.openid
        try:
            if not job.deferred:
                job.committing = True
            text = await self.outcomes.store(
                job.inbound_id, openid, job.key, session, text, name, status, deferred=job.deferred
            )
            if not job.done.done():
                job.done.set_result(text)
            if job.deferred and text is not None:
                await self.outcomes.send_late(openid, job.inbound_id, text)
            return text
        except BaseException:
            if not job.done.done():
                job.done.set_result(None)
            raise
        finally:
            self.in_flight.pop(job.key, None)

    async def replay(
        self, key: str, deadline: float, abandoned_before: datetime | None = None
    ) -> Stored:
        """A retry: wait for the owner's reply (in this process or another) and answer it."""
        job = self.in_flight.get(key)
        if job is not None:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                return Stored(await asyncio.wait_for(asyncio.shield(job.done), max(remaining, 0)))
            except TimeoutError:
                return Stored(None)
        return await poll_reply(self.sessionmaker, key, deadline, abandoned_before)

    # --- answering --------------------------------------------------------------------
    async def close(self) -> None:
        """Let handlers still running (deferred replies) finish, then stop the writer."""
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=DRAIN_S)
            for task in pending:
                task.cancel()
        await self.writer.close()


def _claim(
    conn: Connection, inbound: dict[str, Any], buyer: dict[str, Any]
) -> tuple[int | None, dict[str, Any] | None]:
    """The claim, one unit of group-commit work: the inbound row, then the buyer."""
    inbound_id = record_inbound(conn, **inbound)
    if inbound_id is None:
        return None, None
    return inbound_id, touch_buyer(conn, **buyer)


def _take_over(
    conn: Connection, abandoned: tuple[int, datetime], now: datetime, buyer: dict[str, Any]
) -> tuple[int | None, dict[str, Any] | None]:
    """Own an abandoned claim (if no other retry did first), then touch the buyer."""
    inbound_id, seen = abandoned
    if not take_over(conn, inbound_id, seen, now):
        return None, None
    return inbound_id, touch_buyer(conn, **buyer)


def _subscription(event: str | None) -> bool | None:
    if event in ("subscribe", "subscribe_scan"):
        return True
    if event == "unsubscribe":
        return False
    return None


# --- aiohttp handlers -----------------------------------------------------------------------
