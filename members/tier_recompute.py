"""Recomputing every buyer's tier at once: after an import and nightly.

Set-based where it matters: order matching and the order figures are single UPDATEs
(``members/orders.py``); the plain tier changes (no override, no grace period running) are one
INSERT … SELECT into ``tier_changes`` and one UPDATE; only buyers under an override or a
grace period are read, in id-ordered chunks, and decided by ``members.tiers.decide`` in Python,
their changes written with executemany. So 100,000 buyers take seconds on SQLite.
This module sends nothing: changes to announce are left ``pending`` for
``members/tier_notices.py`` (``recompute_all_tiers`` below does both: the nightly job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import TiersConfig
from bot.models import Buyer, UTCDateTime
from members.orders import match_unmatched_orders, refresh_all_figures
from members.tier_notices import deliver_pending_notices
from members.tiers import (
    BY_ORDERS,
    NOTICE_NONE,
    NOTICE_PENDING,
    Ladder,
    TierChange,
    current_tiers,
    decide,
    notice_for,
    window_start,
)

if TYPE_CHECKING:
    from bot.dialog.context import Services

CHUNK = 20_000


@dataclass
class RecomputeResult:
    matched: int = 0  # orders newly linked to buyers
    figures_changed: int = 0  # buyers whose order figures changed
    buyers_checked: int = 0
    changes: int = 0
    upgrades: int = 0
    downgrades: int = 0
    notices: dict[str, int] = field(default_factory=dict)  # channel → count

    def as_dict(self) -> dict:
        return dict(self.__dict__)


_SET_TIER = (
    update(Buyer.__table__)
    .where(Buyer.__table__.c.id == bindparam("b_id"))
    .values(
        tier_key=bindparam("b_tier"),
        tier_since=bindparam("b_since"),
        tier_below_since=bindparam("b_below"),
    )
)
_SET_BELOW = (
    update(Buyer.__table__)
    .where(Buyer.__table__.c.id == bindparam("b_id"))
    .values(tier_below_since=bindparam("b_below"))
)
_CLEAR_MANUAL = (
    update(Buyer.__table__)
    .where(Buyer.__table__.c.id == bindparam("b_id"))
    .values(tier_manual_key=None, tier_manual_until=None, tier_manual_reason=None)
)


async def _apply_plain_changes(
    session: AsyncSession, ladder: Ladder, now: datetime, result: RecomputeResult
) -> None:
    """The plain changes, in SQL: no override, no grace running, and either an upgrade or
    a downgrade that does not wait. After a big import these are nearly all the changes,
    so a first recompute over 100,000 buyers is three statements, not 100,000 decisions.
    Everything else (overrides, grace periods) is left to ``decide`` in Python.
    """
    if not ladder.levels:
        return  # no tiers configured: the Python pass clears any left-over tier
    b = Buyer.__table__.c
    earned = ladder.earned_sql(b.orders_12m, b.spend_12m)
    held_rank = ladder.by_key_sql(b.tier_key, "rank")
    upgrade = and_(
        earned.is_not(None),
        or_(held_rank.is_(None), ladder.by_key_sql(earned, "rank") > held_rank),
    )
    plain = and_(
        b.tier_manual_key.is_(None),
        b.tier_below_since.is_(None),
        earned.is_distinct_from(b.tier_key),
        or_(held_rank.is_(None), upgrade, ladder.by_key_sql(b.tier_key, "grace_days") == 0),
    )
    total, upgrades = (
        await session.execute(
            select(func.count(), func.sum(case((upgrade, 1), else_=0)))
            .select_from(Buyer)
            .where(plain)
        )
    ).one()
    if not total:
        return
    downgrade_notice = NOTICE_PENDING if ladder.config.announce_downgrades else NOTICE_NONE
    stamp = bindparam("now", now, type_=UTCDateTime())
    await session.execute(
        insert(TierChange.__table__).from_select(
            ["buyer_id", "from_key", "to_key", "reason", "created_at", "notice"],
            select(
                b.id,
                b.tier_key,
                earned,
                literal(BY_ORDERS),
                stamp,
                case((upgrade, NOTICE_PENDING), else_=downgrade_notice),
            ).where(plain),
        )
    )
    await session.execute(
        update(Buyer.__table__).where(plain).values(tier_key=earned, tier_since=stamp)
    )
    result.changes += total
    result.upgrades += int(upgrades or 0)
    result.downgrades += total - int(upgrades or 0)


async def recompute_tiers(
    sessionmaker: async_sessionmaker[AsyncSession], config: TiersConfig, now: datetime
) -> RecomputeResult:
    """Match orders, refresh every buyer's figures, and decide and record every tier change.

    Sends nothing: changes to announce are left with ``notice = 'pending'``.
    """
    ladder = Ladder(config)
    result = RecomputeResult()
    async with sessionmaker() as session:
        result.matched = await match_unmatched_orders(session)
        result.figures_changed = await refresh_all_figures(
            session, window_start(now, config.window_months)
        )
        await session.commit()

    async with sessionmaker() as session:
        await _apply_plain_changes(session, ladder, now, result)
        await session.commit()

    b = Buyer.__table__.c
    cols = (
        b.id,
        b.tier_key,
        b.tier_manual_key,
        b.tier_manual_until,
        b.tier_below_since,
        b.orders_12m,
        b.spend_12m,
    )
    # Only buyers who may change reach Python: those whose earned tier (decided in SQL)
    # differs from the one they hold, and those under an override or a grace period.
    scan = (
        select(*cols)
        .where(
            or_(
                ladder.earned_sql(b.orders_12m, b.spend_12m).is_distinct_from(b.tier_key),
                b.tier_manual_key.is_not(None),
                b.tier_below_since.is_not(None),
            )
        )
        .order_by(b.id)
        .limit(CHUNK)
    )
    last_id = 0
    while True:
        async with sessionmaker() as session:
            rows = (await session.execute(scan.where(b.id > last_id))).all()
            if not rows:
                break
            last_id = rows[-1].id
            result.buyers_checked += len(rows)  # buyers who might change
            set_tier, set_below, clear_manual, changes = [], [], [], []
            for r in rows:
                d = decide(
                    ladder,
                    current=r.tier_key,
                    manual_key=r.tier_manual_key,
                    manual_until=r.tier_manual_until,
                    below_since=r.tier_below_since,
                    orders=r.orders_12m,
                    spend=r.spend_12m,
                    now=now,
                )
                if d.clear_manual:
                    clear_manual.append({"b_id": r.id})
                if d.reason is not None:
                    set_tier.append(
                        {
                            "b_id": r.id,
                            "b_tier": d.tier_key,
                            "b_since": now,
                            "b_below": d.below_since,
                        }
                    )
                    changes.append(
                        {
                            "buyer_id": r.id,
                            "from_key": r.tier_key,
                            "to_key": d.tier_key,
                            "reason": d.reason,
                            "note": None,
                            "created_at": now,
                            "notice": notice_for(ladder, r.tier_key, d.tier_key),
                        }
                    )
                    if ladder.is_upgrade(r.tier_key, d.tier_key):
                        result.upgrades += 1
                    else:
                        result.downgrades += 1
                elif d.below_since != r.tier_below_since:
                    set_below.append({"b_id": r.id, "b_below": d.below_since})
            for stmt, params in (
                (_SET_TIER, set_tier),
                (_SET_BELOW, set_below),
                (_CLEAR_MANUAL, clear_manual),
            ):
                if params:
                    await session.execute(stmt, params)
            if changes:
                await session.execute(insert(TierChange.__table__), changes)
            result.changes += len(changes)
            await session.commit()
    return result


async def recompute_all_tiers(
    sessionmaker: async_sessionmaker[AsyncSession], services: Services
) -> RecomputeResult:
    """The nightly job and the after-import step: recompute every tier, then announce.

    This is what the scheduler calls. Announcements go out through
    ``members.tier_notices.deliver_pending_notices`` (customer-service message, template
    message, or stored for the buyer's next message).
    """
    async with sessionmaker() as session:
        tiers = await current_tiers(session, services.config.tiers)
    result = await recompute_tiers(sessionmaker, tiers, services.clock.now())
    result.notices = await deliver_pending_notices(sessionmaker, services)
    return result
