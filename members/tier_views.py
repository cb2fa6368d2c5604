"""Read models for the console's 订单 and 会员等级 pages: one function per list, one query each.

Members per tier, buyers about to drop (grace period running: days left and the spend
gap), manual tiers, recent changes with reasons, and orders filtered matched/unmatched
(keyset-paged by id). The counts on the tier cards and the buyer list they link to come
from the same column (``buyers.tier_key``). This module changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from members.orders import Order
from members.tiers import Ladder, TierChange

PAGE = 50


async def members_per_tier(session: AsyncSession) -> dict[str | None, int]:
    rows = await session.execute(select(Buyer.tier_key, func.count()).group_by(Buyer.tier_key))
    return {key: count for key, count in rows.all()}


@dataclass(frozen=True)
class AtRisk:
    buyer_id: int
    name: str
    tier_key: str
    days_left: int
    spend_gap: float | None  # yuan still to buy to keep the tier (None: no spend threshold)
    orders_gap: int | None


def _name(b) -> str:
    return b.display_name or b.company or b.platform_account or f"买家 #{b.id}"


async def about_to_drop(
    session: AsyncSession, ladder: Ladder, now: datetime, limit: int = PAGE
) -> list[AtRisk]:
    """Buyers in a grace period, soonest drop first."""
    q = (
        select(Buyer)
        .where(Buyer.tier_below_since.is_not(None), Buyer.tier_manual_key.is_(None))
        .order_by(Buyer.tier_below_since, Buyer.id)
        .limit(limit * 2)
    )
    out = []
    for b in await session.scalars(q):
        tier = ladder.get(b.tier_key)
        if tier is None:
            continue
        ends = b.tier_below_since + timedelta(days=tier.grace_days)
        days = max(0, (ends - now).days)
        spend_gap = None if tier.min_spend is None else max(0.0, tier.min_spend - b.spend_12m)
        orders_gap = None if tier.min_orders is None else max(0, tier.min_orders - b.orders_12m)
        out.append(AtRisk(b.id, _name(b), tier.key, days, spend_gap, orders_gap))
    return sorted(out, key=lambda r: r.days_left)[:limit]


async def manual_tiers(session: AsyncSession, limit: int = PAGE) -> list[Buyer]:
    q = (
        select(Buyer)
        .where(Buyer.tier_manual_key.is_not(None))
        .order_by(Buyer.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(q))


async def recent_changes(session: AsyncSession, limit: int = PAGE) -> list[tuple[TierChange, str]]:
    q = (
        select(TierChange, Buyer)
        .join(Buyer, Buyer.id == TierChange.buyer_id)
        .order_by(TierChange.created_at.desc(), TierChange.id.desc())  # time, not insertion
        .limit(limit)
    )
    return [(change, _name(buyer)) for change, buyer in (await session.execute(q)).all()]


async def find_buyer(session: AsyncSession, buyer_id: int) -> Buyer | None:
    return await session.get(Buyer, buyer_id)


async def list_orders(
    session: AsyncSession, *, matched: bool | None, before_id: int | None, limit: int = PAGE
) -> tuple[list[tuple[Order, str | None]], int]:
    """Orders newest first (by id), with the buyer's name; and how many match the filter."""
    where = []
    if matched is True:
        where.append(Order.buyer_id.is_not(None))
    elif matched is False:
        where.append(Order.buyer_id.is_(None))
    q = (
        select(Order, Buyer)
        .outerjoin(Buyer, Buyer.id == Order.buyer_id)
        .where(*where)
        .order_by(Order.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        q = q.where(Order.id < before_id)
    rows = [(o, _name(b) if b is not None else None) for o, b in (await session.execute(q)).all()]
    total = await session.scalar(select(func.count()).select_from(Order).where(*where))
    return rows, int(total or 0)
