"""Member tiers: which tier a buyer holds, why it changes, and the record of every change.

A tier is earned from the buyer's counted orders in the trailing window (``[tiers]
window_months``): the highest-ranked tier whose spend *or* order threshold is met (a tier
with no threshold is everyone's base tier). An operator's manual tier wins until it
expires. A downgrade waits ``grace_days`` (per tier) before it happens; an upgrade is at
once. Every change of a buyer's tier is a ``tier_changes`` row (from, to, why, when) whose
``notice`` column says how the buyer was told (``members/tier_notices.py`` sends them).

Recomputing everyone at once (set-based) is ``members/tier_recompute.py`` (its
``recompute_all_tiers`` also announces: the nightly job); announcing changes is
``members/tier_notices.py``; one buyer's refresh while they write is
``members/tier_refresh.py``. This module decides and records; it sends nothing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    case,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.config import TierConfig, TiersConfig
from bot.models import Base, Buyer
from bot.recent import Recent

if TYPE_CHECKING:
    from bot.dialog.context import Services

# Why a tier changed (tier_changes.reason).
BY_ORDERS = "orders"
GRACE_ENDED = "grace_ended"
MANUAL = "manual"
MANUAL_EXPIRED = "manual_expired"
MANUAL_CLEARED = "manual_cleared"

# How the buyer was told (tier_changes.notice).
NOTICE_PENDING = "pending"  # to be sent by members/tier_notices.py
NOTICE_NONE = "none"  # not announced (a downgrade with announce_downgrades off, no change)


class TierError(ValueError):
    """An operator's tier request cannot be done; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class TierChange(Base):
    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    from_key: Mapped[str | None] = mapped_column(String(32))
    to_key: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(256))  # the operator's reason
    created_at: Mapped[datetime]
    # pending → custom | template | stored (waits in buyers.pending_notice) → reply; none; superseded
    notice: Mapped[str] = mapped_column(String(16), default=NOTICE_PENDING)

    __table_args__ = (
        Index("ix_tier_changes_buyer", "buyer_id", "created_at"),
        Index("ix_tier_changes_created", "created_at"),  # 最近变动, newest first
        Index("ix_tier_changes_notice", "notice"),
    )


class TierRuleSet(Base):
    """The ladder as an admin last saved it in the console; overrides ``[tiers] levels``.

    One row (id 1). Every process reads it where it builds a ladder (``current_ladder``),
    so a saved ladder applies everywhere at once without a restart.
    """

    __tablename__ = "tier_rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    levels: Mapped[list] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


async def current_tiers(session: AsyncSession, config: TiersConfig) -> TiersConfig:
    """The configured tiers with the levels an admin saved in the console, if any."""
    stored = await session.get(TierRuleSet, 1, populate_existing=True)
    if stored is None:
        return config
    return config.model_copy(
        update={"levels": [TierConfig.model_validate(level) for level in stored.levels]}
    )


async def current_ladder(session: AsyncSession, config: TiersConfig) -> Ladder:
    """The ladder in force now: the stored one (console) over the configured one."""
    return Ladder(await current_tiers(session, config))


# The ladder for the replies (the member badge heads every reply of a member): one database
# read per message cost the webhook five sixths of its throughput (bench/webhook.py), so the
# replies read it at most once a second per process. Saving a ladder here forgets it at once
# (``members/tier_rules.py``); recomputes and notices read the table itself (current_ladder).
REPLY_LADDERS: Recent[Ladder] = Recent(fresh_s=1.0)


class Ladder:
    """The configured tiers, ordered by rank, with the questions asked of them."""

    def __init__(self, config: TiersConfig) -> None:
        self.config = config
        self.levels: list[TierConfig] = sorted(config.levels, key=lambda t: t.rank)
        self.by_key = {t.key: t for t in self.levels}

    def get(self, key: str | None) -> TierConfig | None:
        return self.by_key.get(key) if key else None

    def rank(self, key: str | None) -> int | None:
        tier = self.get(key)
        return tier.rank if tier else None

    @staticmethod
    def qualifies(tier: TierConfig, orders: int, spend: float) -> bool:
        if tier.min_spend is None and tier.min_orders is None:
            return True
        # Compare money in cents so 2999.999… from float sums never misses ¥3,000.
        by_spend = tier.min_spend is not None and round(spend * 100) >= round(tier.min_spend * 100)
        by_orders = tier.min_orders is not None and orders >= tier.min_orders
        return by_spend or by_orders

    def earned(self, orders: int, spend: float) -> TierConfig | None:
        """The highest-ranked tier these figures qualify for."""
        for tier in reversed(self.levels):
            if self.qualifies(tier, orders, spend):
                return tier
        return None

    def earned_sql(self, orders: ColumnElement, spend: ColumnElement) -> ColumnElement:
        """`earned` as a SQL expression over a buyer's figure columns (same money rounding)."""
        whens = []
        for tier in reversed(self.levels):
            tests = []
            if tier.min_spend is not None:
                tests.append(spend >= tier.min_spend - 0.005)
            if tier.min_orders is not None:
                tests.append(orders >= tier.min_orders)
            whens.append((or_(*tests) if tests else true(), tier.key))
        return case(*whens, else_=null()) if whens else null()

    def by_key_sql(self, key: ColumnElement, value: str) -> ColumnElement:
        """A tier attribute (rank, grace_days) of the tier named in `key`, in SQL."""
        whens = [(key == t.key, getattr(t, value)) for t in self.levels]
        return case(*whens, else_=null()) if whens else null()

    def next_above(self, key: str | None) -> TierConfig | None:
        """The tier a buyer at `key` climbs to next (the lowest tier when they have none)."""
        rank = self.rank(key)
        return next((t for t in self.levels if rank is None or t.rank > rank), None)

    def is_upgrade(self, from_key: str | None, to_key: str | None) -> bool:
        before, after = self.rank(from_key), self.rank(to_key)
        return after is not None and (before is None or after > before)


def window_start(now: datetime, months: int) -> datetime:
    """`now` minus whole calendar months (31 March minus one month is 28/29 February)."""
    year, month0 = divmod(now.year * 12 + now.month - 1 - months, 12)
    day = min(now.day, calendar.monthrange(year, month0 + 1)[1])
    return now.replace(year=year, month=month0 + 1, day=day)


@dataclass(frozen=True)
class Decision:
    tier_key: str | None
    below_since: datetime | None
    clear_manual: bool
    reason: str | None  # why tier_key differs from the current tier (None: it does not)


def decide(
    ladder: Ladder,
    *,
    current: str | None,
    manual_key: str | None,
    manual_until: datetime | None,
    below_since: datetime | None,
    orders: int,
    spend: float,
    now: datetime,
) -> Decision:
    """The tier a buyer should hold now, and why it differs from `current`."""

    def result(key: str | None, below: datetime | None, clear: bool, reason: str) -> Decision:
        return Decision(key, below, clear, reason if key != current else None)

    manual_active = manual_key in ladder.by_key and (manual_until is None or manual_until > now)
    if manual_active:
        return result(manual_key, None, False, MANUAL)
    earned = ladder.earned(orders, spend)
    earned_key = earned.key if earned else None
    if manual_key is not None:
        return result(earned_key, None, True, MANUAL_EXPIRED)
    current_tier = ladder.get(current)
    if current_tier is None or ladder.rank(earned_key) == current_tier.rank:
        return result(earned_key, None, False, BY_ORDERS)
    if not ladder.is_upgrade(earned_key, current) or current_tier.grace_days == 0:
        return result(earned_key, None, False, BY_ORDERS)
    # A downgrade under a grace period: start the clock, or end it.
    if below_since is None:
        return Decision(current, now, False, None)
    if now >= below_since + timedelta(days=current_tier.grace_days):
        return result(earned_key, None, False, GRACE_ENDED)
    return Decision(current, below_since, False, None)


def notice_for(ladder: Ladder, from_key: str | None, to_key: str | None) -> str:
    """Whether a change is announced: upgrades always, downgrades when configured."""
    if from_key == to_key:
        return NOTICE_NONE
    if ladder.is_upgrade(from_key, to_key) or ladder.config.announce_downgrades:
        return NOTICE_PENDING
    return NOTICE_NONE


# --- one buyer ---------------------------------------------------------------------------


def apply_change(
    session: AsyncSession,
    ladder: Ladder,
    buyer: Buyer,
    d: Decision,
    now: datetime,
    note: str | None,
) -> TierChange | None:
    """Apply a decision to the buyer; a change of tier is recorded (and returned)."""
    buyer.tier_below_since = d.below_since
    if d.clear_manual:
        buyer.tier_manual_key = buyer.tier_manual_until = buyer.tier_manual_reason = None
    if d.reason is None:
        return None
    change = TierChange(
        buyer_id=buyer.id,
        from_key=buyer.tier_key,
        to_key=d.tier_key,
        reason=d.reason,
        note=note,
        created_at=now,
        notice=notice_for(ladder, buyer.tier_key, d.tier_key),
    )
    buyer.tier_key, buyer.tier_since = d.tier_key, now
    session.add(change)
    return change


def decision_for(ladder: Ladder, buyer: Buyer, now: datetime) -> Decision:
    """What the ladder decides for this buyer now, from their stored figures and overrides."""
    return decide(
        ladder,
        current=buyer.tier_key,
        manual_key=buyer.tier_manual_key,
        manual_until=buyer.tier_manual_until,
        below_since=buyer.tier_below_since,
        orders=buyer.orders_12m or 0,
        spend=buyer.spend_12m or 0.0,
        now=now,
    )


async def set_manual_tier(
    session: AsyncSession,
    buyer: Buyer,
    key: str | None,
    *,
    reason: str,
    until: datetime | None,
    services: Services,
) -> TierChange:
    """An operator sets the buyer's tier (``key=None`` hands it back to the orders).

    Always recorded, even when the tier stays the same, so the operator's reason is kept.
    Raises TierError for a key that is not a configured tier or an expiry in the past.
    """
    now = services.clock.now()
    ladder = await current_ladder(session, services.config.tiers)
    if key is not None and key not in ladder.by_key:
        known = ", ".join(ladder.by_key) or "(no tiers configured)"
        raise TierError("key", f"unknown tier {key!r}; configured tiers: {known}")
    if until is not None and until <= now:
        raise TierError("until", "the expiry is in the past")
    buyer.tier_manual_key, buyer.tier_manual_until = key, until
    buyer.tier_manual_reason = reason[:256] if key else None
    earned = ladder.earned(buyer.orders_12m or 0, buyer.spend_12m or 0.0)
    target = key or (earned.key if earned else None)
    why = MANUAL if key else MANUAL_CLEARED
    change = apply_change(
        session,
        ladder,
        buyer,
        Decision(target, None, False, why if target != buyer.tier_key else None),
        now,
        reason[:256],
    )
    if change is None:  # same tier: keep the operator's action on record anyway
        change = TierChange(
            buyer_id=buyer.id,
            from_key=buyer.tier_key,
            to_key=buyer.tier_key,
            reason=why,
            note=reason[:256],
            created_at=now,
            notice=NOTICE_NONE,
        )
        session.add(change)
    await session.flush()
    return change


async def tier_changes_for(
    session: AsyncSession, *, buyer_id: int | None = None, limit: int = 100
) -> list[TierChange]:
    """The most recent tier changes, newest first by when they happened (one buyer's, or
    everyone's; an import of old orders adds changes dated before existing ones)."""
    q = select(TierChange).order_by(TierChange.created_at.desc(), TierChange.id.desc()).limit(limit)
    if buyer_id is not None:
        q = q.where(TierChange.buyer_id == buyer_id)
    return list((await session.scalars(q)).all())
