"""Editing the tier ladder from the console: parse and validate, preview the moves, save.

An admin edits names, thresholds, perks, badges and grace periods. ``parse_levels`` turns
the form into ``TierConfig`` levels with a Chinese error naming the field; ``preview_moves``
counts, in one grouped query over the buyers' stored figures, how many would move up, enter
a grace period or move down at once under the edited ladder (operators' manual tiers stay);
``save_levels`` stores the ladder in ``tier_rule_sets`` (``members/tiers.py`` reads it
wherever a ladder is built, in every process) and returns before/after for the audit.

Saving changes no buyer's tier and sends nothing: the next recompute (重算, an import, the
nightly job) applies the ladder and announces the changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TierConfig, TiersConfig
from bot.models import Buyer
from members.tiers import REPLY_LADDERS, Ladder, TierRuleSet, current_tiers

MAX_LEVELS = 10
MAX_PERKS = 10
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class TierRuleError(ValueError):
    """The edited ladder is not valid; the message names the tier and the field (Chinese)."""


def parse_money(value: str) -> float | None:
    """ "20000", "¥20,000", "2万", "2w" → yuan; "" → None."""
    v = value.strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    if not v:
        return None
    scale = 1
    if v[-1:] in ("万", "w", "W"):
        v, scale = v[:-1], 10_000
    try:
        amount = float(v) * scale
    except ValueError:
        raise ValueError("不是金额") from None
    if not (0 <= amount <= 10**9):
        raise ValueError("金额超出范围")
    return round(amount, 2)


def _int(value: str, low: int, high: int) -> int | None:
    v = value.strip()
    if not v:
        return None
    if not v.isdigit() or not (low <= int(v) <= high):
        raise ValueError(f"应是 {low}–{high} 的整数")
    return int(v)


def parse_levels(rows: Sequence[Mapping[str, str]]) -> list[TierConfig]:
    """Form rows (key, name, rank, min_spend, min_orders, perks, badge, grace_days) →
    validated levels; raises TierRuleError. Rows with neither key nor name are dropped."""
    levels = []
    rows = [r for r in rows if r.get("key", "").strip() or r.get("name", "").strip()]
    if not rows:
        raise TierRuleError("至少要有一个等级")
    if len(rows) > MAX_LEVELS:
        raise TierRuleError(f"最多 {MAX_LEVELS} 个等级")
    for i, row in enumerate(rows, 1):
        where = f"第 {i} 个等级"
        key, name = row.get("key", "").strip(), row.get("name", "").strip()
        if not _KEY.match(key):
            raise TierRuleError(f"{where}：标识只能用小写字母、数字和下划线（如 gold）")
        if not name or len(name) > 16:
            raise TierRuleError(f"{where}：名称必填，最多 16 个字")
        try:
            rank = _int(row.get("rank", ""), 0, 99)
        except ValueError as exc:
            raise TierRuleError(f"{where}「{name}」：排序{exc}") from None
        try:
            spend = parse_money(row.get("min_spend", ""))
        except ValueError as exc:
            raise TierRuleError(f"{where}「{name}」：采购金额{exc}") from None
        try:
            orders = _int(row.get("min_orders", ""), 1, 100_000)
            grace = _int(row.get("grace_days", ""), 0, 365) or 0
        except ValueError as exc:
            raise TierRuleError(f"{where}「{name}」：单数或宽限期{exc}") from None
        perks = [p.strip() for p in re.split(r"[\n,，、;；]", row.get("perks", "")) if p.strip()]
        if len(perks) > MAX_PERKS or any(len(p) > 32 for p in perks):
            raise TierRuleError(f"{where}「{name}」：权益最多 {MAX_PERKS} 条，每条 32 字以内")
        badge = row.get("badge", "").strip()
        if len(badge) > 16:
            raise TierRuleError(f"{where}「{name}」：徽章最多 16 个字")
        levels.append(
            TierConfig(
                key=key,
                name=name,
                rank=rank if rank is not None else i,
                min_spend=spend,
                min_orders=orders,
                perks=perks,
                badge=badge,
                grace_days=grace,
            )  # fmt: skip
        )
    try:
        TiersConfig(levels=levels)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise TierRuleError(f"等级重复：{message}（标识和排序都不能重复）") from None
    ordered = sorted(levels, key=lambda t: t.rank)
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        for attr, label in (("min_spend", "采购金额"), ("min_orders", "单数")):
            a, b = getattr(lower, attr), getattr(higher, attr)
            if a is not None and b is not None and b < a:
                raise TierRuleError(f"「{higher.name}」的{label}门槛低于下一级「{lower.name}」")
    return levels


@dataclass(frozen=True)
class Moves:
    upgrades: int = 0
    grace: int = 0  # would enter (or stay in) a grace period
    downgrades: int = 0  # would move down at once (no grace, or their tier was removed)
    unchanged: int = 0


async def preview_moves(
    session: AsyncSession, config: TiersConfig, levels: list[TierConfig]
) -> Moves:
    """How buyers would move under `levels` at the next recompute (nothing is written)."""
    new = Ladder(config.model_copy(update={"levels": levels}))
    b = Buyer.__table__.c
    earned = new.earned_sql(b.orders_12m, b.spend_12m).label("earned")
    q = (
        select(b.tier_key, earned, func.count())
        .where(b.tier_manual_key.is_(None))
        .group_by(b.tier_key, earned)
    )
    up = grace = down = same = 0
    for held, target, count in (await session.execute(q)).all():
        held_rank, target_rank = new.rank(held), new.rank(target)
        if held == target:
            same += count
        elif target_rank is not None and (held_rank is None or target_rank > held_rank):
            up += count
        elif held_rank is not None and new.get(held).grace_days > 0:
            grace += count
        else:
            down += count
    return Moves(up, grace, down, same)


def levels_json(levels: Sequence[TierConfig]) -> list[dict]:
    return [level.model_dump() for level in levels]


async def save_levels(
    session: AsyncSession, config: TiersConfig, levels: list[TierConfig], actor: str,
    now: datetime,
) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """Store the ladder (overriding ``[tiers] levels``); returns (before, after) for the
    audit. Changes no buyer's tier: the next recompute applies it."""
    before = levels_json((await current_tiers(session, config)).levels)
    stored = await session.get(TierRuleSet, 1)
    after = levels_json(levels)
    if stored is None:
        session.add(TierRuleSet(id=1, levels=after, updated_by=actor[:64], updated_at=now))
    else:
        stored.levels, stored.updated_by, stored.updated_at = after, actor[:64], now
    await session.flush()
    REPLY_LADDERS.forget()
    return before, after
