"""The buyer row as the webhook keeps it: created on first contact, touched on every inbound.

One statement per inbound from a known buyer (an UPDATE returning the whole row; an upsert
for a new one): it refreshes
``last_interaction_at`` (which opens WeChat's 48-hour customer-service window) and records
follows and unfollows with their times and the QR scene a follow came through. The row then
becomes the handler's ``ctx.buyer`` without another query (:func:`buyer_from_row`). It does
not hold the business card, tiers or opt-out logic; those belong to their features.

Statements are SQLAlchemy Core on a synchronous ``Connection`` so they run inside the
group-commit writer's batches (``bot/inbound/groupcommit.py``) or, through ``run_sync``, in a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import configure_mappers, make_transient_to_detached

from bot.inbound.events import FOLLOW, UNFOLLOW, record_event_sync
from bot.inbound.prepared import run
from bot.models import Buyer

# Events WeChat sends on its own account, not because the buyer did anything: they must not
# open the 48-hour window (sending on the strength of them would earn 45015 errors).
NOT_INTERACTIONS = frozenset({"templatesendjobfinish", "masssendjobfinish"})

INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
BUYERS = Buyer.__table__

_VALUES = (
    "openid",
    "first_seen_at",
    "last_interaction_at",
    "subscribed",
    "subscribed_at",
    "unsubscribed_at",
    "qr_scene",
)


@cache
def _upsert(dialect: str, interaction: bool, subscribed: bool | None, scene: bool) -> Any:
    """The upsert for one kind of inbound (built once per kind: statements are cached)."""
    stmt = INSERTS[dialect](BUYERS).values({name: bindparam(name) for name in _VALUES})
    new = stmt.excluded
    changes: dict[str, Any] = {}
    if interaction:
        changes["last_interaction_at"] = new.last_interaction_at
    if subscribed is True:
        changes.update(subscribed=True, subscribed_at=new.subscribed_at)
        if scene:
            changes["qr_scene"] = new.qr_scene
    elif subscribed is False:
        changes.update(subscribed=False, unsubscribed_at=new.unsubscribed_at)
    if not changes:  # DO NOTHING would return no row; a no-op update returns it
        changes["openid"] = new.openid
    return stmt.on_conflict_do_update(index_elements=["openid"], set_=changes).returning(*BUYERS.c)


@cache
def _update(interaction: bool, subscribed: bool | None, scene: bool, late: bool = False) -> Any:
    """The same changes as :func:`_upsert` for a buyer already known, as a plain UPDATE.

    Tried first: an upsert makes the database build the whole 45-column new row (defaults
    and all) only to find the conflict, which made it the costliest statement per message.
    `late`: a message handled after newer ones (from the spool, ``bot/inbound/spool.py``): the
    interaction is dated when WeChat received it, and never moves a later one back."""
    c = BUYERS.c
    now = bindparam("now", type_=c.last_interaction_at.type)
    changes: dict[str, Any] = {}
    if interaction and late:
        at = bindparam("interaction_at", type_=c.last_interaction_at.type)
        later = or_(c.last_interaction_at.is_(None), c.last_interaction_at < at)
        changes["last_interaction_at"] = case((later, at), else_=c.last_interaction_at)
    elif interaction:
        changes["last_interaction_at"] = now
    if subscribed is True:
        changes.update(subscribed=True, subscribed_at=now)
        if scene:
            changes["qr_scene"] = bindparam("qr_scene", type_=c.qr_scene.type)
    elif subscribed is False:
        changes.update(subscribed=False, unsubscribed_at=now)
    if not changes:  # a no-op update still returns the row
        changes["openid"] = c.openid
    return (
        BUYERS.update()
        .where(c.openid == bindparam("match_openid", type_=c.openid.type))
        .values(changes)
        .returning(*BUYERS.c)
    )


def touch_buyer(
    conn: Connection,
    openid: str,
    now: datetime,
    *,
    interaction: bool = True,
    subscribed: bool | None = None,
    qr_scene: str | None = None,
    interaction_at: datetime | None = None,
) -> dict[str, Any]:
    """Create or update the buyer for one inbound message; returns the whole row.

    `subscribed` is True for a follow, False for an unfollow, None for anything else; a follow
    through a parametric QR code passes its scene (a later follow without one keeps it).
    `interaction_at`: for a message handled late, when WeChat received it (else `now`)."""
    # No parameter named like a column the UPDATE does not set: Core would add it to SET.
    changes: dict[str, Any] = {"match_openid": openid, "now": now}
    if qr_scene:
        changes["qr_scene"] = qr_scene
    late = interaction_at is not None
    if late:
        changes["interaction_at"] = interaction_at
    known = run(conn, _update(interaction, subscribed, bool(qr_scene), late), changes)
    if known:
        return _followed(conn, known[0], subscribed, now)
    stmt = _upsert(conn.dialect.name, interaction, subscribed, bool(qr_scene))
    params = {
        "openid": openid,
        "first_seen_at": now,
        "last_interaction_at": (interaction_at or now) if interaction else None,
        # Someone who writes to the account follows it (WeChat only relays followers).
        "subscribed": subscribed is not False,
        "subscribed_at": now if subscribed else None,
        "unsubscribed_at": now if subscribed is False else None,
        "qr_scene": qr_scene,
    }
    # Python-side column defaults (tags=[], orders_12m=0 …) apply to Core inserts too.
    return _followed(conn, run(conn, stmt, params)[0], subscribed, now)


def _followed(
    conn: Connection, row: dict[str, Any], subscribed: bool | None, now: datetime
) -> dict[str, Any]:
    """A follow or unfollow is also dated in ``buyer_events`` (the dashboard's history)."""
    if subscribed is not None:
        record_event_sync(conn, row["id"], FOLLOW if subscribed else UNFOLLOW, now)
    return row


def buyer_from_row(row: Mapping[str, Any]) -> Buyer:
    """An ORM Buyer for a row already read, detached: ``session.add`` makes it persistent
    in a handler's session with no query (changes to it are flushed on commit)."""
    # As the ORM's own loader does: values straight into the instance dict, no attribute
    # events (the declarative constructor costs ~10x more for this 45-column row).
    mapper = Buyer.__mapper__
    if not mapper.configured:  # the ORM normally configures itself on first use
        configure_mappers()
    buyer = mapper.class_manager.new_instance()
    buyer.__dict__.update(row)
    make_transient_to_detached(buyer)
    return buyer
