"""Tiers (会员等级): today's distribution, and who moved up or down in each bucket.

A buyer's move in a bucket is net: the tier before their first change in it against the tier
after their last one (``tier_changes``), compared by rank (no tier ranks below every tier);
a buyer who went up and back down in one bucket did not move. The period's flows (期初 →
期末 for a Sankey) are the same net comparison over the whole period.

This module reads ``tier_changes``; deciding tiers is ``members/tiers.py``'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.models import Buyer
from insights.periods import DateRange, buckets, previous, whole
from insights.rollups import cached
from members.tiers import TierChange

NONE = "none"  # how "no tier" is named in keys and flows
# The interval of a count that is about now: never over, so never final (fresh for minutes).
NOW_KEY = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class TierMoves:
    distribution: dict[str, int]  # tier key (or "none") → buyers now
    buckets: list[str]
    up: list[int | None]
    down: list[int | None]
    flows: dict[str, int] = field(default_factory=dict)  # "silver>gold" → buyers
    up_total: int = 0
    down_total: int = 0
    up_previous: int | None = None
    down_previous: int | None = None


async def net_moves(
    session: AsyncSession, lo: datetime, hi: datetime
) -> dict[int, tuple[str, str]]:
    """Each buyer whose tier changed in ``[lo, hi)``: (tier before, tier after), net."""
    rows = await session.execute(
        select(TierChange.buyer_id, TierChange.from_key, TierChange.to_key)
        .where(TierChange.created_at >= lo, TierChange.created_at < hi)
        .order_by(TierChange.buyer_id, TierChange.created_at, TierChange.id)
    )
    moves: dict[int, tuple[str, str]] = {}
    for buyer_id, before, after in rows:
        first = moves[buyer_id][0] if buyer_id in moves else (before or NONE)
        moves[buyer_id] = (first, after or NONE)
    return {b: m for b, m in moves.items() if m[0] != m[1]}


def direction(move: tuple[str, str], ranks: Mapping[str, int]) -> str:
    before = ranks.get(move[0], -1)
    after = ranks.get(move[1], -1)
    return "up" if after > before else "down" if after < before else "same"


async def moved_buyers(
    session: AsyncSession, lo: datetime, hi: datetime, ranks: Mapping[str, int], way: str
) -> list[int]:
    """The buyers whose net move in ``[lo, hi)`` was `way` (up or down), by id."""
    moves = await net_moves(session, lo, hi)
    return sorted(b for b, m in moves.items() if direction(m, ranks) == way)


async def _distribution(
    session: AsyncSession, ranks: Mapping[str, int], now: datetime
) -> dict[str, int]:
    """Buyers per tier now; a scan of the tier index, so served from the cache for minutes."""
    keys = [(f"tiers_now:{k}", NOW_KEY, NOW_KEY) for k in [NONE, *ranks]]

    async def compute(missing):
        rows = await session.execute(select(Buyer.tier_key, func.count()).group_by(Buyer.tier_key))
        counts = {key or NONE: float(n) for key, n in rows}
        out = {k: counts.get(k[0].split(":", 1)[1], 0.0) for k in keys}
        return {k: out[k] for k in missing}

    got = await cached(session, keys, compute, now)
    return {k[0].split(":", 1)[1]: int(v or 0) for k, v in got.items() if v}


async def tier_moves(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
    *,
    ranks: Mapping[str, int],
) -> TierMoves:
    """`ranks`: tier key → rank, from the configured ladder."""
    now = clock.now()
    spans = buckets(period, granularity, timezone)
    here, before = whole(period, timezone), whole(previous(period), timezone)
    plan = {}
    for b in [*spans, here, before]:
        if b.lo < now:
            plan[("tier_up", b.lo, b.hi)] = b
            plan[("tier_down", b.lo, b.hi)] = b
    pairs = [f"{a}>{z}" for a in [NONE, *ranks] for z in [NONE, *ranks] if a != z]
    if here.lo < now:
        for pair in pairs:
            plan[(f"tier_flow:{pair}", here.lo, here.hi)] = here

    async def compute(missing):
        out = {}
        for b in {plan[k] for k in missing}:
            moves = await net_moves(session, b.lo, min(b.hi, now))
            ways = [direction(m, ranks) for m in moves.values()]
            out[("tier_up", b.lo, b.hi)] = float(ways.count("up"))
            out[("tier_down", b.lo, b.hi)] = float(ways.count("down"))
            if b is here:
                flows = {p: 0.0 for p in pairs}
                for a, z in moves.values():
                    if f"{a}>{z}" in flows:
                        flows[f"{a}>{z}"] += 1
                out.update({(f"tier_flow:{p}", b.lo, b.hi): n for p, n in flows.items()})
        return {k: out.get(k) for k in missing}

    got = await cached(session, list(plan), compute, now)

    def value(metric: str, b) -> int | None:
        v = got.get((metric, b.lo, b.hi))
        return None if v is None else int(v)

    distribution = await _distribution(session, ranks, now)
    result = TierMoves(
        distribution,
        [b.key() for b in spans],
        [value("tier_up", b) for b in spans],
        [value("tier_down", b) for b in spans],
        {p: value(f"tier_flow:{p}", here) or 0 for p in pairs},
        value("tier_up", here) or 0,
        value("tier_down", here) or 0,
        value("tier_up", before),
        value("tier_down", before),
    )
    result.flows = {p: n for p, n in result.flows.items() if n}
    return result
