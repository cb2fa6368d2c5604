"""What the follower sync writes: WeChat's followers merged into the buyer book.

:func:`read_known` and :func:`merge_followers` take one ``user/info/batchget`` answer (up to
100 followers):

- a follower Laoke never met becomes a buyer who never wrote: following since WeChat's
  ``subscribe_time`` (also their ``first_seen_at``), **no interaction time** (so nobody
  mistakes them for someone inside the 48-hour window), ``imported_at`` set, and a follow
  event dated at ``subscribe_time`` flagged ``imported`` (the dashboard's 粉丝增长);
- a known buyer keeps everything the bot learnt (card, last interaction, opt-out, tags,
  first seen): only the platform's own fields are refreshed (unionid, remark, WeChat tag
  ids, subscribe scene), and a missing follow time or QR scene filled in. A buyer marked
  unsubscribed who follows again according to WeChat (a follow the webhook missed) follows
  again, with an imported follow event. A row is only written when something changed, so a
  second sync changes nothing.

:func:`find_leavers` and :func:`mark_left` mark, a chunk at a time, the buyers who follow
according to Laoke but were not in a *complete* listing: unsubscribed now, with an imported
unfollow event. Anyone who followed or wrote after the listing began is left alone (the
listing may predate them).

The reads are async and take no lock; the writes are functions of a synchronous
``Connection`` run in the caller's transaction — the sync runs them through a group-commit
writer (``bot/inbound/groupcommit.py``), so on SQLite a batch's writes hold the database's one
write lock for milliseconds, not for a round of thread hops. This module does not call WeChat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.inbound.events import FOLLOW, UNFOLLOW, BuyerEvent
from bot.models import Buyer
from bot.wechat.followers import FollowerInfo
from followers.models import ListedFollower

BUYERS = Buyer.__table__
LEAVERS_CHUNK = 1000


@dataclass
class MergeResult:
    created: int = 0
    updated: int = 0
    # Openids WeChat says no longer follow (batchget's subscribe 0).
    not_following: list[str] = field(default_factory=list)
    earliest_event: datetime | None = None

    def dated(self, at: datetime) -> None:
        if self.earliest_event is None or at < self.earliest_event:
            self.earliest_event = at


@dataclass(frozen=True)
class Known:
    """What the buyer book already holds of a batch's followers (read before writing)."""

    rows: dict[str, Row]  # openid → the fields a merge compares
    with_history: frozenset[int]  # buyer ids with a follow or unfollow event


# Refreshed from WeChat on every sync; the statement's parameters are prefixed (a bindparam
# named like a column of the SET clause is reserved by SQLAlchemy).
_PROFILE = ("unionid", "wechat_remark", "wechat_tag_ids", "subscribe_scene", "qr_scene")


def _param(name: str) -> Any:
    return bindparam(f"v_{name}", type_=BUYERS.c[name].type)


_SET = {name: _param(name) for name in _PROFILE[:-1]} | {
    # Filled in only where the webhook left them empty (it may set them meanwhile).
    "qr_scene": func.coalesce(BUYERS.c.qr_scene, _param("qr_scene")),
}
_BY_ID = BUYERS.c.id == bindparam("v_id")
_REFRESH = (
    update(BUYERS)
    .where(_BY_ID)
    .values(
        _SET | {"subscribed_at": func.coalesce(BUYERS.c.subscribed_at, _param("subscribed_at"))}
    )
)
_REFOLLOW = (
    update(BUYERS)
    .where(_BY_ID, BUYERS.c.subscribed.is_(False))
    .values(_SET | {"subscribed": True, "subscribed_at": _param("subscribed_at")})
)
INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _profile(info: FollowerInfo) -> dict[str, Any]:
    return {
        "unionid": info.unionid,
        "wechat_remark": info.remark,
        "wechat_tag_ids": list(info.tag_ids),
        "subscribe_scene": info.subscribe_scene,
    }


def _event(buyer_id: int, kind: str, at: datetime) -> dict[str, Any]:
    return {"buyer_id": buyer_id, "kind": kind, "at": at, "imported": True}


async def read_known(session: AsyncSession, infos: Sequence[FollowerInfo]) -> Known:
    """The buyers behind a batch's followers, and which of them have follow history."""
    openids = [i.openid for i in infos if i.subscribed]
    if not openids:
        return Known({}, frozenset())
    c = BUYERS.c
    rows = await session.execute(
        select(
            c.id, c.openid, c.subscribed, c.subscribed_at, c.unsubscribed_at,
            *(c[name] for name in _PROFILE),
        ).where(c.openid.in_(openids))
    )  # fmt: skip
    known = {row.openid: row for row in rows}
    history: set[int] = set()
    if known:
        e = BuyerEvent
        history = set(
            await session.scalars(
                select(e.buyer_id)
                .where(
                    e.buyer_id.in_([r.id for r in known.values()]),
                    e.kind.in_((FOLLOW, UNFOLLOW)),
                )
                .distinct()
            )
        )
    return Known(known, frozenset(history))


def merge_followers(
    conn: Connection,
    infos: Sequence[FollowerInfo],
    known: Known,
    *,
    now: datetime,
    listing_started: datetime,
) -> MergeResult:
    """Create or refresh the buyers of one batch of follower details (see the module doc)."""
    result = MergeResult()
    following = {i.openid: i for i in infos if i.subscribed}
    result.not_following = [i.openid for i in infos if not i.subscribed]
    events: list[dict[str, Any]] = []
    fresh = [info for openid, info in following.items() if openid not in known.rows]
    if fresh:
        rows = [
            {
                "openid": info.openid,
                "subscribed": True,
                "subscribed_at": info.subscribe_time or now,
                "first_seen_at": info.subscribe_time or now,
                "last_interaction_at": None,
                "qr_scene": info.qr_scene,
                "imported_at": now,
                **_profile(info),
            }
            for info in fresh
        ]
        # Core's executemany (SQLAlchemy batches it into multi-row statements compiled once;
        # the ORM's bulk insert with RETURNING goes row by row on SQLite). The webhook may
        # create one of them meanwhile: that row wins, and the next sync refreshes it.
        stmt = (
            INSERTS[conn.dialect.name](BUYERS)
            .on_conflict_do_nothing(index_elements=["openid"])
            .returning(BUYERS.c.id, BUYERS.c.openid)
        )
        for buyer_id, openid in conn.execute(stmt, rows):
            at = following[openid].subscribe_time or now
            events.append(_event(buyer_id, FOLLOW, at))
            result.dated(at)
            result.created += 1
    refresh, refollow = [], []
    for openid, row in known.rows.items():
        info = following[openid]
        wanted = _profile(info) | {
            "qr_scene": row.qr_scene or info.qr_scene,
            "subscribed_at": row.subscribed_at or info.subscribe_time,
        }
        if not row.subscribed:
            if row.unsubscribed_at is not None and row.unsubscribed_at >= listing_started:
                continue  # left during this sync: the webhook's word is newer than the listing
            # Followed again without the webhook hearing of it: dated after the recorded leave.
            at = info.subscribe_time or now
            if row.unsubscribed_at is not None and at <= row.unsubscribed_at:
                at = row.unsubscribed_at + timedelta(seconds=1)
            wanted["subscribed_at"] = at
            refollow.append({"v_id": row.id, **{f"v_{k}": v for k, v in wanted.items()}})
            events.append(_event(row.id, FOLLOW, at))
            result.dated(at)
            continue
        if row.id not in known.with_history and wanted["subscribed_at"] is not None:
            # A follower from before Laoke's history: their follow dated as WeChat dates it.
            events.append(_event(row.id, FOLLOW, wanted["subscribed_at"]))
            result.dated(wanted["subscribed_at"])
        if any(getattr(row, k) != v for k, v in wanted.items()):
            refresh.append({"v_id": row.id, **{f"v_{k}": v for k, v in wanted.items()}})
    if refresh:
        conn.execute(_REFRESH, refresh)
    if refollow:
        conn.execute(_REFOLLOW, refollow)
    if events:
        conn.execute(insert(BuyerEvent), events)
    result.updated = len(refresh) + len(refollow)
    return result


def forget_listed(conn: Connection, job_id: int, openids: Sequence[str]) -> None:
    """Openids WeChat says left since the listing: not in it any more."""
    if openids:
        conn.execute(
            ListedFollower.__table__.delete().where(
                ListedFollower.job_id == job_id, ListedFollower.openid.in_(list(openids))
            )
        )


def _leaver_condition(job_id: int, listing_started: datetime):
    listed = exists().where(ListedFollower.job_id == job_id, ListedFollower.openid == Buyer.openid)
    return (
        Buyer.subscribed.is_(True),
        ~listed,
        func.coalesce(Buyer.subscribed_at, Buyer.first_seen_at) < listing_started,
        or_(Buyer.last_interaction_at.is_(None), Buyer.last_interaction_at < listing_started),
    )


async def find_leavers(
    session: AsyncSession, job_id: int, listing_started: datetime, limit: int = LEAVERS_CHUNK
) -> list[int]:
    """Up to `limit` buyers who follow according to Laoke but are missing from job `job_id`'s
    complete listing (a read: at a million buyers a scan, so not in a write transaction)."""
    return list(
        await session.scalars(
            select(Buyer.id)
            .where(*_leaver_condition(job_id, listing_started))
            .order_by(Buyer.id)
            .limit(limit)
        )
    )


def mark_left(
    conn: Connection, job_id: int, ids: Sequence[int], *, listing_started: datetime, now: datetime
) -> int:
    """Mark those of `ids` still missing from the listing as unsubscribed, with an imported
    unfollow event (the condition is checked again: the webhook may have heard from them since
    they were found); how many."""
    left = list(
        conn.scalars(
            update(BUYERS)
            .where(BUYERS.c.id.in_(list(ids)), *_leaver_condition(job_id, listing_started))
            .values(subscribed=False, unsubscribed_at=now)
            .returning(BUYERS.c.id)
        )
    )
    if left:
        conn.execute(insert(BuyerEvent), [_event(i, UNFOLLOW, now) for i in left])
    return len(left)
