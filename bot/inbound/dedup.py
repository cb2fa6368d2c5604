"""Exactly-once handling of WeChat's retries: the claim, the stored reply, the takeover.

WeChat retries a message it got no answer for (three tries in all), sometimes while the first
try is still being handled, and possibly on another server process. Each inbound row carries a
unique dedup key; the first try to insert it (``INSERT … ON CONFLICT DO NOTHING``) owns the
message, every other try waits for the owner's stored reply and answers the same bytes:
through an in-process future when the owner is in this process, by polling the database
otherwise (another process), bounded by the reply budget either way.

Keys (computed once, in ``bot/inbound/record.py``): sender+MsgId for messages (MsgIds of
different users have been seen to collide), and sender+CreateTime+event(+key) for events,
which have no MsgId.

Writes are SQLAlchemy Core on a synchronous ``Connection`` (run by the group-commit writer,
or through ``run_sync`` inside a handler's session); statements are built once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inbound.buyers import INSERTS
from bot.inbound.prepared import run
from bot.models import InboundMessage, OutboundMessage

INBOUND = InboundMessage.__table__
OUTBOUND = OutboundMessage.__table__


@cache
def _claim(dialect: str) -> Any:
    cols = (
        "dedup_key",
        "openid",
        "msg_type",
        "event",
        "content",
        "wechat_created_at",
        "received_at",
    )
    return (
        INSERTS[dialect](INBOUND)
        .values({**{c: bindparam(c) for c in cols}, "status": "processing", "deferred": False})
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(INBOUND.c.id)
    )


def record_inbound(
    conn: Connection,
    *,
    dedup_key: str,
    openid: str,
    msg_type: str,
    event: str | None,
    content: str | None,
    wechat_created_at: datetime | None,
    now: datetime,
) -> int | None:
    """Claim the message: its new row id, or None when another try already claimed it."""
    params = {
        "dedup_key": dedup_key,
        "openid": openid,
        "msg_type": msg_type,
        "event": event,
        "content": content,
        "wechat_created_at": wechat_created_at,
        "received_at": now,
    }
    rows = run(conn, _claim(conn.dialect.name), params)
    return rows[0]["id"] if rows else None


_STORE = (
    INBOUND.update()
    .where(INBOUND.c.id == bindparam("inbound_id"))
    .values(
        status=bindparam("status"),
        reply=bindparam("reply"),
        handler=bindparam("handler"),
        deferred=bindparam("deferred"),
    )
)
_OUTBOUND = OUTBOUND.insert().values(
    {
        c: bindparam(c)
        for c in (
            "openid",
            "channel",
            "purpose",
            "content",
            "inbound_id",
            "created_at",
            "result",
            "errcode",
        )
    }
)
_DEFER = (
    INBOUND.update()
    .where(INBOUND.c.id == bindparam("inbound_id"), INBOUND.c.status == "processing")
    .values(deferred=True)
)


def outcome_statements(
    inbound_id: int,
    *,
    openid: str,
    reply: str | None,
    handler: str,
    status: str,
    now: datetime,
    deferred: bool = False,
) -> list[tuple[Any, dict[str, Any]]]:
    """The writes that record a message's outcome, as (statement, parameters) pairs.

    The passive reply is also an outbound message (channel ``reply``); a deferred reply is
    recorded when it is sent (``record_outbound``), as WeChat was answered `success`."""
    writes: list[tuple[Any, dict[str, Any]]] = [
        (
            _STORE,
            {
                "inbound_id": inbound_id,
                "status": status,
                "reply": None if deferred else reply,
                "handler": handler[:64],
                "deferred": deferred,
            },
        )
    ]
    if reply is not None and not deferred:
        writes.append(
            (
                _OUTBOUND,
                {
                    "openid": openid,
                    "channel": "reply",
                    "purpose": "reply",
                    "content": reply,
                    "inbound_id": inbound_id,
                    "created_at": now,
                    "result": "ok",
                    "errcode": None,
                },
            )
        )
    return writes


def store_reply(conn: Connection, inbound_id: int, **outcome: Any) -> None:
    """Record the outcome in the caller's transaction (see :func:`outcome_statements`)."""
    for stmt, params in outcome_statements(inbound_id, **outcome):
        run(conn, stmt, params)


def record_outbound(
    conn: Connection,
    *,
    openid: str,
    channel: str,
    purpose: str,
    content: str | None,
    now: datetime,
    inbound_id: int | None = None,
    result: str = "ok",
    errcode: int | None = None,
) -> None:
    """Add one outbound message row (in the caller's transaction)."""
    run(
        conn,
        _OUTBOUND,
        {
            "openid": openid,
            "channel": channel,
            "purpose": purpose,
            "content": content,
            "inbound_id": inbound_id,
            "created_at": now,
            "result": result,
            "errcode": errcode,
        },
    )


def mark_deferred(conn: Connection, inbound_id: int) -> None:
    """Tell every process that WeChat got `success` for this message (its retries get it too)."""
    run(conn, _DEFER, {"inbound_id": inbound_id})


@dataclass(frozen=True)
class Stored:
    """What a retry answers: the owner's reply, or None for `success`.

    `abandoned` is set instead when the owner is gone: the row is still ``processing``, not
    deferred, and older than the owner's budget allows (its process died between the claim
    and the outcome). It holds (inbound id, received_at) for :func:`take_over`."""

    reply: str | None
    abandoned: tuple[int, datetime] | None = None


async def poll_reply(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
    deadline: float,
    abandoned_before: datetime | None = None,
) -> Stored:
    """Wait (by polling, until `deadline` in loop time) for another process's stored reply."""
    loop = asyncio.get_running_loop()
    interval = 0.01
    query = select(
        InboundMessage.id,
        InboundMessage.status,
        InboundMessage.reply,
        InboundMessage.deferred,
        InboundMessage.received_at,
    ).where(InboundMessage.dedup_key == key)
    while True:
        async with sessionmaker() as session:
            row = (await session.execute(query)).one_or_none()
        if row is not None and (row.deferred or row.status != "processing"):
            return Stored(None if row.deferred else row.reply)
        if row is not None and abandoned_before is not None and row.received_at < abandoned_before:
            return Stored(None, abandoned=(row.id, row.received_at))
        remaining = deadline - loop.time()
        if remaining <= 0:
            # The owner is still working past its own deadline: it has answered (or will
            # answer) `success` and sends the reply through the customer-service API.
            return Stored(None)
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, 0.1)


_TAKE_OVER = (
    INBOUND.update()
    .where(
        INBOUND.c.id == bindparam("inbound_id"),
        INBOUND.c.status == "processing",
        INBOUND.c.deferred.is_(False),
        INBOUND.c.received_at == bindparam("seen"),
    )
    .values(received_at=bindparam("now"))
    .returning(INBOUND.c.id)
)


def take_over(conn: Connection, inbound_id: int, seen: datetime, now: datetime) -> bool:
    """Claim an abandoned message (compare-and-set on received_at: one retry wins)."""
    return bool(run(conn, _TAKE_OVER, {"inbound_id": inbound_id, "seen": seen, "now": now}))
