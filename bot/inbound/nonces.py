"""The nonce record: a signed callback query is good for one body, in every process.

In plain and compatible mode WeChat signs the query (token, timestamp, nonce), not the body,
so a captured signed query would carry any body an attacker likes for as long as the replay
window accepts its timestamp (20 forged 退订 for 20 buyers from one query, say). Each
unencrypted callback therefore records its query's signature with a digest of its body, in the
database so that it holds across ``serve`` processes (``INSERT … ON CONFLICT DO NOTHING``, one
row per query). A second use of the same query is let through only with the same body: that
is a retry of the same message (WeChat's, or the network's), which the message dedup
(``bot/inbound/dedup.py``) answers with the stored reply; with another body it is refused (403).
Rows older than the replay window are pruned, as the window refuses their queries anyway.

This module does not cover safe mode (``msg_signature`` signs the ciphertext, so the body
cannot be swapped) nor a replay window of 0 (no window: nothing would ever be prunable, and
the operator has turned replay protection off; ``docs/webhook.md`` says what that leaves open).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from bot.inbound.buyers import INSERTS
from bot.inbound.prepared import run
from bot.models import Base

PRUNE_EVERY = timedelta(seconds=60)  # how often a process deletes expired rows


class CallbackNonce(Base):
    """One signed callback query seen, with the body it carried."""

    __tablename__ = "callback_nonces"

    signature: Mapped[str] = mapped_column(String(40), primary_key=True)  # sha1(token, ts, nonce)
    body_sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


NONCES = CallbackNonce.__table__


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@cache
def _insert(dialect: str) -> Any:
    return (
        INSERTS[dialect](NONCES)
        .values(
            signature=bindparam("signature"),
            body_sha256=bindparam("digest"),
            seen_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["signature"])
        .returning(NONCES.c.signature)
    )


_SEEN = select(NONCES.c.body_sha256).where(NONCES.c.signature == bindparam("signature"))
_PRUNE = delete(NONCES).where(NONCES.c.seen_at < bindparam("before"))


def use_query(conn: Connection, signature: str, digest: str, now: datetime) -> bool:
    """Record the query's use with this body; False when it was used before with another."""
    params = {"signature": signature, "digest": digest, "now": now}
    if run(conn, _insert(conn.dialect.name), params):
        return True
    seen = conn.execute(_SEEN, {"signature": signature}).scalar()
    # Gone between the two statements (pruned): the window has refused its timestamp anyway.
    return seen is None or seen == digest


def prune(conn: Connection, before: datetime) -> None:
    """Forget the queries seen before `before` (their timestamps are outside the window)."""
    run(conn, _PRUNE, {"before": before})
