"""Delivery rows in the database: claiming batches, recording results, settling rows in flight.

A sender claims pending rows of running campaigns in one statement —
``UPDATE deliveries SET status='claimed' … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP
LOCKED) RETURNING …`` — so any number of ``laoke worker`` processes share the work on
PostgreSQL without ever taking the same row; SQLite has a single writer, and the same
statement (without the lock clause, which SQLite ignores) is atomic there by construction.

Exactly-once: a row is sent only by the sender that claimed it, and its result is written
only while it is still claimed by that sender. Right before its own request to WeChat starts,
a row is marked ``sending`` (:func:`mark_sending`, many rows per statement when several start
together); a row the mark does not find still claimed by this sender is not sent. A sender
that dies leaves its batch with no result: after its heartbeat lease lapses (or the claim is
older than ``CLAIM_TIMEOUT``) the rows it was ``sending`` become ``uncertain`` — reported,
never resent, because the message may have reached the buyer (rows of a mass send go back to
pending instead: resending repeats its clientmsgid, which WeChat never delivers twice); there are at most
``concurrency`` of them per sender — and the rows it had claimed but not started go back to
``pending``, to be sent by whoever claims them next. This module does not choose channels or talk to WeChat
(``scheduler/sender.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import CampaignsConfig
from bot.models import Buyer, Lease, OutboundMessage
from bot.wechat import channels
from scheduler.models import (
    CLAIMED,
    CUSTOM,
    PENDING,
    RUNNING,
    SENDING,
    UNCERTAIN,
    Campaign,
    Delivery,
)

SENDER_LEASE_PREFIX = "sender:"
SENDER_LEASE_TTL = timedelta(seconds=60)
# No batch runs this long (batches are sized to a few seconds of the rate limit); a claim this
# old belongs to a sender that is stuck even if its heartbeat still beats.
CLAIM_TIMEOUT = timedelta(minutes=10)
IN_FLIGHT = "in_flight"  # the reason of rows a sender held when it died or went silent

_table = Delivery.__table__


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    step_id: int
    campaign_id: int
    buyer_id: int
    openid: str
    attempts: int
    requested: bool
    mass_send_id: int | None = None  # set: a retry of this mass send (same clientmsgid)
    reason: str | None = None  # why it was last put back to pending (window_closed …)


@dataclass(slots=True)
class Result:
    """What happened to one claimed row; ``status`` pending means "try again later"."""

    id: int
    status: str
    reason: str | None = None
    channel: str | None = None
    errcode: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


async def running_campaigns(session: AsyncSession, *, all_day_only: bool = False) -> list[int]:
    """Ids of campaigns whose deliveries may be sent now."""
    stmt = select(Campaign.id).where(Campaign.status == RUNNING)
    if all_day_only:
        stmt = stmt.where(Campaign.all_day.is_(True))
    return list((await session.scalars(stmt)).all())


async def claim_deliveries(
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int,
    *,
    quiet: bool = False,
) -> list[Claimed]:
    """Claim up to `limit` due rows of running campaigns (in quiet hours: all-day ones and
    rows the buyer asked for)."""
    campaign_ids = await running_campaigns(session)
    if not campaign_ids:
        return []
    due = and_(
        _table.c.status == PENDING,
        _table.c.campaign_id.in_(campaign_ids),
        or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= now),
    )
    if quiet:
        all_day = await running_campaigns(session, all_day_only=True)
        due = and_(due, or_(_table.c.campaign_id.in_(all_day), _table.c.requested.is_(True)))
    pick = (
        select(_table.c.id)
        .where(due)
        .order_by(_table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's single writer needs none
    )
    stmt = (
        update(_table)
        .where(_table.c.id.in_(pick))
        .values(status=CLAIMED, claimed_by=worker, claimed_at=now)
        .returning(
            _table.c.id,
            _table.c.step_id,
            _table.c.campaign_id,
            _table.c.buyer_id,
            _table.c.openid,
            _table.c.attempts,
            _table.c.requested,
            _table.c.mass_send_id,
            _table.c.reason,
        )
    )
    rows = (await session.execute(stmt)).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


async def record_results(session: AsyncSession, worker: str, results: list[Result]) -> None:
    """Write a batch's results; rows no longer claimed by `worker` are left alone.

    Rows with the same outcome share one ``UPDATE … WHERE id IN (…)`` (sent times are kept to
    the second), so a batch of 2,000 mostly identical results costs a handful of statements.

    A row the sweep marked ``uncertain`` while this sender could not reach the database (its
    lease lapsed during an outage) is still this sender's to settle with what it knows:
    sent, failed or skipped. A retry ("pending") does not reopen it: a timed-out send may
    have arrived, and uncertain rows are never resent.
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for r in results:
        sent_at = r.sent_at.replace(microsecond=0) if r.sent_at else None
        key = (r.status, r.reason, r.channel, r.errcode, r.attempts, r.next_attempt_at, sent_at)
        groups[key].append(r.id)
    for (status, reason, channel, errcode, attempts, next_at, sent_at), ids in groups.items():
        ours = _table.c.status.in_((CLAIMED, SENDING))
        if status != PENDING:
            ours = or_(ours, and_(_table.c.status == UNCERTAIN, _table.c.reason == IN_FLIGHT))
        await session.execute(
            update(_table)
            .where(_table.c.id.in_(ids), _table.c.claimed_by == worker, ours)
            .values(
                status=status,
                reason=reason,
                channel=channel,
                errcode=errcode,
                attempts=attempts,
                next_attempt_at=next_at,
                sent_at=sent_at,
            )
        )


async def live_senders(session: AsyncSession, now: datetime) -> int:
    """How many senders hold a live lease (they share the account's rate limit)."""
    return await session.scalar(
        select(func.count())
        .select_from(Lease)
        .where(Lease.name.like(f"{SENDER_LEASE_PREFIX}%"), Lease.expires_at > now)
    )


async def mark_sending(session: AsyncSession, worker: str, ids: list[int]) -> set[int]:
    """Mark rows whose request is about to start; the ids still claimed by `worker` (only
    those may be sent: the others were given up on while this sender was silent)."""
    rows = await session.execute(
        update(_table)
        .where(_table.c.id.in_(ids), _table.c.claimed_by == worker, _table.c.status == CLAIMED)
        .values(status=SENDING)
        .returning(_table.c.id)
    )
    return {row[0] for row in rows}


async def mark_in_flight_uncertain(
    session: AsyncSession, now: datetime, cfg: CampaignsConfig | None = None
) -> int:
    """Settle the rows of senders that died (lease lapsed) or got stuck: those whose request
    had started become ``uncertain``, those never started go back to ``pending``. Returns how
    many became uncertain."""
    live = select(Lease.holder).where(
        Lease.name.like(f"{SENDER_LEASE_PREFIX}%"), Lease.expires_at > now
    )
    abandoned = or_(_table.c.claimed_at < now - CLAIM_TIMEOUT, _table.c.claimed_by.not_in(live))
    # A mass send in flight is safe to repeat (its clientmsgid makes WeChat answer "already
    # sent"), so its rows go back to pending with their batch (scheduler/mass_sends.py).
    await session.execute(
        update(_table)
        .where(_table.c.status == SENDING, _table.c.mass_send_id.is_not(None), abandoned)
        .values(status=PENDING, claimed_by=None, claimed_at=None)
    )
    result = await session.execute(
        update(_table)
        .where(_table.c.status == SENDING, abandoned)
        .values(status=UNCERTAIN, reason=IN_FLIGHT)
    )
    await session.execute(
        update(_table)
        .where(_table.c.status == CLAIMED, abandoned)
        .values(status=PENDING, claimed_by=None, claimed_at=None)
    )
    return result.rowcount or 0


@dataclass(slots=True)
class BuyerState:
    """What the sender needs to know about a recipient right now."""

    id: int
    subscribed: bool
    opted_out: bool
    last_interaction_at: datetime | None
    tier_key: str | None
    display_name: str | None
    interests: list[str] | None
    company: str | None
    business_type: str | None
    province: str | None
    city: str | None
    custom_used: int = 0  # customer-service messages since the last interaction (quota 5)
    day: set[int] | None = None  # campaigns that reached the buyer in the last 24 h
    week: set[int] | None = None  # … in the last 7 days


async def load_buyers(
    session: AsyncSession, buyer_ids: list[int], now: datetime, *, caps: bool = True
) -> dict[int, BuyerState]:
    """Recipients' state plus their recent sends, in a few grouped queries for the batch
    (`caps` False: no campaign in the batch is subject to frequency caps, skip that query)."""
    rows = await session.execute(
        select(
            Buyer.id,
            Buyer.subscribed,
            Buyer.opted_out,
            Buyer.last_interaction_at,
            Buyer.tier_key,
            Buyer.display_name,
            Buyer.interests,
            Buyer.company,
            Buyer.business_type,
            Buyer.province,
            Buyer.city,
        ).where(Buyer.id.in_(buyer_ids))
    )
    buyers = {r[0]: BuyerState(*r, day=set(), week=set()) for r in rows}
    in_window = [b.id for b in buyers.values() if channels.in_window(b.last_interaction_at, now)]
    if in_window:
        # Campaign sends since the last interaction. Only sent rows have a sent_at, so the
        # query says nothing of status: with a status condition PostgreSQL may pick the
        # (status, …) index from statistics taken before the campaign ran (when no row was
        # sent yet) and read every sent row per batch — 11 s a batch at 1M deliveries.
        # Rows left uncertain by a crash have no sent_at and do not count (if one did arrive,
        # WeChat's 45047 moves that buyer to the template channel).
        used = await session.execute(
            select(Delivery.buyer_id, func.count())
            .join(Buyer, Buyer.id == Delivery.buyer_id)
            .where(
                Delivery.buyer_id.in_(in_window),
                Delivery.channel == CUSTOM,
                Delivery.sent_at >= Buyer.last_interaction_at,
            )
            .group_by(Delivery.buyer_id)
        )
        for buyer_id, count in used:
            buyers[buyer_id].custom_used += count
        # Other customer-service messages (deferred replies, tier notices) use the same quota.
        other = await session.execute(
            select(Buyer.id, func.count())
            .join(OutboundMessage, OutboundMessage.openid == Buyer.openid)
            .where(
                Buyer.id.in_(in_window),
                OutboundMessage.channel == CUSTOM,
                OutboundMessage.result == "ok",
                OutboundMessage.created_at >= Buyer.last_interaction_at,
            )
            .group_by(Buyer.id)
        )
        for buyer_id, count in other:
            buyers[buyer_id].custom_used += count
    if not caps:
        return buyers
    recent = await session.execute(
        select(Delivery.buyer_id, Delivery.campaign_id, func.max(Delivery.sent_at))
        .where(
            Delivery.buyer_id.in_(buyer_ids),
            Delivery.sent_at >= now - timedelta(days=7),  # sent rows only (see above)
        )
        .group_by(Delivery.buyer_id, Delivery.campaign_id)
    )
    for buyer_id, campaign_id, last_sent in recent:
        state = buyers.get(buyer_id)
        if state is None:
            continue
        state.week.add(campaign_id)
        if last_sent >= now - timedelta(days=1):
            state.day.add(campaign_id)
    return buyers
