"""The outcome store: a handled message's reply and status, written once, with the handler's
writes when it made any; and a reply that missed the deadline, sent by the customer-service API.

A handler works in its own session (``handler_sessionmaker``), which notes whether it wrote
anything. If it did, the outcome is stored in that same transaction and committed with it —
the handler's writes, the inbound outcome and the outbound record land together or not at
all; if the commit fails the buyer gets the apology instead. A handler that only read has its
outcome stored by the group-commit writer. This module does not run handlers, wait for
deadlines or order a buyer's messages (``bot/inbound/handling.py`` does).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.clock import Clock
from bot.dialog.context import TRANSFER_TO_KF, Services
from bot.inbound.dedup import outcome_statements, record_outbound
from bot.inbound.groupcommit import GroupCommit
from bot.logs import mask_openid
from bot.wechat.client import WeChatAPIError

log = logging.getLogger("laoke.webhook")


class HandlerSession(Session):
    """A handler's session, which notes whether the handler wrote anything.

    A handler that only read (or did nothing) has its outcome stored by the group-commit
    writer; one that wrote gets the outcome stored in its own transaction, atomically."""


@event.listens_for(HandlerSession, "after_flush")
def _flushed(session: Session, _flush_context: Any) -> None:
    session.info["wrote"] = True


@event.listens_for(HandlerSession, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info["wrote"] = True


def wrote(session: AsyncSession) -> bool:
    return bool(session.info.get("wrote") or session.new or session.dirty or session.deleted)


def handler_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for handlers: they note writes, and keep objects loaded after a commit."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=HandlerSession)


class Outcomes:
    """Stores outcomes and sends late replies, through one group-commit writer."""

    def __init__(self, writer: GroupCommit, clock: Clock, services: Services) -> None:
        self.writer = writer
        self.clock = clock
        self.services = services

    async def store(
        self,
        inbound_id: int,
        openid: str,
        key: str,
        session: AsyncSession | None,
        text: str | None,
        name: str,
        status: str,
        *,
        deferred: bool,
    ) -> str | None:
        """Store the outcome (with the handler's writes, if any); the reply the buyer gets."""
        store = partial(
            outcome_statements,
            inbound_id=inbound_id,
            openid=openid,
            handler=name,
            now=self.clock.now(),
            deferred=deferred,
        )
        if session is not None and wrote(session):
            try:
                writes = store(reply=text, status=status)
                await session.run_sync(lambda s: _execute(s.connection(), writes))
                await session.commit()
            except Exception:
                log.exception(
                    "handler's transaction failed to commit",
                    extra={"fields": {"openid": mask_openid(openid), "key": key}},
                )
                await session.rollback()
                text, status = self.apology(), "failed"
                await self.writer.write(store(reply=text, status=status))
        else:
            if session is not None:
                await session.close()  # a read-only transaction: nothing to keep
            await self.writer.write(store(reply=text, status=status))
        return text

    async def send_late(self, openid: str, inbound_id: int, text: str) -> None:
        """Send a reply that missed the deadline through the customer-service API."""
        if text == TRANSFER_TO_KF:  # only a passive reply can transfer; nothing to send
            return
        result, errcode = "ok", None
        try:
            await self.services.api.send_text(openid, text)
        except WeChatAPIError as exc:
            result, errcode = "failed", exc.errcode
            log.warning(
                "deferred reply refused by WeChat: %s",
                exc.errcode,
                extra={"fields": {"openid": mask_openid(openid)}},
            )
        except Exception:
            log.exception(
                "deferred reply not sent", extra={"fields": {"openid": mask_openid(openid)}}
            )
            result = "failed"
        await self.writer.run(
            partial(
                record_outbound,
                openid=openid,
                channel="custom",
                purpose="deferred_reply",
                content=text,
                inbound_id=inbound_id,
                now=self.clock.now(),
                result=result,
                errcode=errcode,
            )
        )

    def apology(self) -> str | None:
        """The `sorry` text a buyer gets when their message could not be handled."""
        try:
            return self.services.renderer.render("sorry")
        except Exception:
            log.exception("the apology template does not render")
            return None


def _execute(conn: Connection, writes: list[tuple[Any, dict[str, Any]]]) -> None:
    for stmt, params in writes:
        conn.execute(stmt, params)
