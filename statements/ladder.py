"""The rebate ladder: what share of a period's net spend a buyer earns back, as admins set it.

Two shapes: net-spend thresholds (满 ¥10,000 返 1%, 满 ¥50,000 返 2.5% — the highest step
reached applies to the whole net spend), or a rate per tier (金卡会员 3%). Rates are basis
points (250 = 2.5%) and money integer cents; the rebate is rounded half up to the cent with
Decimal, and a period with no positive net spend earns nothing. Every save is a new version
in ``rebate_ladders`` (the highest is in force; the period records the version it closed
with). ``parse_steps`` turns the console's form into steps with Chinese errors naming the row.

This module does not compute statements (``close.py``) and writes no audit entry (its
callers do, in the same transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from statements.models import RebateLadder, Statement, StatementPeriod

SPEND, TIER = "spend", "tier"
MAX_STEPS = 12
MAX_BP = 5000  # 50%: anything above is a typo


class LadderError(ValueError):
    """The edited ladder is not valid; the message names the row (Chinese)."""


@dataclass(frozen=True)
class Step:
    bp: int
    min_cents: int = 0  # SPEND
    tier: str = ""  # TIER


@dataclass(frozen=True)
class Ladder:
    version: int | None
    basis: str
    steps: tuple[Step, ...]
    exclude_skus: tuple[str, ...] = field(default=())

    def rate_bp(self, net_cents: int, tier_key: str | None) -> int:
        """The rate earned by this net spend (thresholds) or this tier (rate per tier)."""
        if self.basis == TIER:
            return next((s.bp for s in self.steps if s.tier == tier_key), 0)
        reached = [s.bp for s in self.steps if net_cents >= s.min_cents]
        return reached[-1] if reached else 0

    def next_step(self, net_cents: int) -> tuple[int, int] | None:
        """(cents still missing, the rate it would earn) for the next threshold up, or None
        (rate per tier, or the top step reached)."""
        if self.basis != SPEND:
            return None
        for step in self.steps:
            if step.min_cents > net_cents:
                return step.min_cents - net_cents, step.bp
        return None

    def as_dict(self) -> dict:
        """The ladder as stored and audited."""
        return {
            "version": self.version,
            "basis": self.basis,
            "steps": [_step_dict(self.basis, s) for s in self.steps],
            "exclude_skus": list(self.exclude_skus),
        }


NO_LADDER = Ladder(None, SPEND, ())


def _step_dict(basis: str, step: Step) -> dict:
    if basis == TIER:
        return {"tier": step.tier, "bp": step.bp}
    return {"min_cents": step.min_cents, "bp": step.bp}


def rebate_cents(net_cents: int, bp: int) -> int:
    """The rebate on `net_cents` at `bp` basis points, half up to the cent; 0 without spend."""
    if net_cents <= 0 or bp <= 0:
        return 0
    exact = Decimal(net_cents) * Decimal(bp) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent(bp: int) -> str:
    """250 → "2.5%" (how rates are shown)."""
    return f"{(Decimal(bp) / 100).normalize():f}%"


def parse_percent(text: str) -> int:
    """ "2.5", "2.5%", "2.5％" → 250 basis points (at most two decimals)."""
    value = text.strip().rstrip("%％").strip()
    try:
        bp = Decimal(value) * 100
    except InvalidOperation:
        raise ValueError("返点比例应为数字，如 2.5") from None
    if bp != bp.to_integral_value() or not (0 < bp <= MAX_BP):
        raise ValueError("返点比例应在 0.01% 到 50% 之间，最多两位小数")
    return int(bp)


def parse_cents(text: str) -> int:
    """ "10000", "¥10,000", "1万", "1w" → cents."""
    value = text.strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    scale = Decimal(100)
    if value[-1:] in ("万", "w", "W"):
        value, scale = value[:-1], Decimal(1_000_000)
    try:
        cents = Decimal(value) * scale
    except InvalidOperation:
        raise ValueError("门槛应为金额，如 10000 或 1万") from None
    if cents < 0 or cents > Decimal(10**13) or cents != cents.to_integral_value():
        raise ValueError("门槛金额不对")
    return int(cents)


def parse_steps(
    basis: str, rows: Sequence[Mapping[str, str]], tier_keys: Sequence[str], exclude: str = ""
) -> Ladder:
    """The console's rows (threshold or tier, percent) → a ladder; blank rows are skipped."""
    if basis not in (SPEND, TIER):
        raise LadderError("请选择按采购额阶梯或按会员等级")
    steps: list[Step] = []
    for number, row in enumerate(rows, start=1):
        where, rate = row.get("where", "").strip(), row.get("percent", "").strip()
        if not where and not rate:
            continue
        try:
            bp = parse_percent(rate)
            if basis == SPEND:
                steps.append(Step(bp, min_cents=parse_cents(where)))
            else:
                if where not in tier_keys:
                    raise ValueError("没有这个会员等级")
                steps.append(Step(bp, tier=where))
        except ValueError as exc:
            raise LadderError(f"第 {number} 行：{exc}") from None
    if len(steps) > MAX_STEPS:
        raise LadderError(f"最多 {MAX_STEPS} 档")
    if basis == SPEND:
        steps.sort(key=lambda s: s.min_cents)
        for lower, upper in zip(steps, steps[1:], strict=False):
            if lower.min_cents == upper.min_cents:
                raise LadderError("两档的门槛相同")
            if upper.bp <= lower.bp:
                raise LadderError("门槛越高，返点比例应越高")
    elif len({s.tier for s in steps}) != len(steps):
        raise LadderError("同一等级写了两次")
    skus = tuple(
        dict.fromkeys(s.strip() for s in exclude.replace("，", ",").split(",") if s.strip())
    )
    return Ladder(None, basis, tuple(steps), skus[:200])


def _from_row(row: RebateLadder) -> Ladder:
    steps = tuple(
        Step(int(s["bp"]), min_cents=int(s.get("min_cents", 0)), tier=str(s.get("tier", "")))
        for s in row.steps
    )
    return Ladder(row.version, row.basis, steps, tuple(row.exclude_skus))


async def current_ladder(session: AsyncSession) -> Ladder:
    """The ladder in force (the latest version), or one that pays nothing if none was saved."""
    row = await session.scalar(select(RebateLadder).order_by(RebateLadder.version.desc()).limit(1))
    return NO_LADDER if row is None else _from_row(row)


async def ladder_version(session: AsyncSession, version: int) -> Ladder | None:
    """A saved version (the one a period closed with)."""
    row = await session.get(RebateLadder, version)
    return None if row is None else _from_row(row)


async def ladder_history(session: AsyncSession, limit: int = 20) -> list[RebateLadder]:
    """The latest saved versions, newest first."""
    rows = await session.scalars(
        select(RebateLadder).order_by(RebateLadder.version.desc()).limit(limit)
    )
    return list(rows)


async def save_ladder(
    session: AsyncSession, ladder: Ladder, actor: str, now: datetime
) -> tuple[dict, dict]:
    """Store `ladder` as the next version; (before, after) for the audit entry.

    Two admins saving at once both compute the same next version: the primary key lets one
    win and the other's transaction fail, rather than one silently replacing the other.
    """
    before = await current_ladder(session)
    version = (before.version or 0) + 1
    saved = Ladder(version, ladder.basis, ladder.steps, ladder.exclude_skus)
    stored = saved.as_dict()
    session.add(
        RebateLadder(
            version=version,
            basis=saved.basis,
            steps=stored["steps"],
            exclude_skus=stored["exclude_skus"],
            saved_by=actor[:64],
            saved_at=now,
        )
    )
    await session.flush()
    return before.as_dict(), stored


@dataclass(frozen=True)
class Preview:
    """What a ladder would have paid on the last closed period, beside what was paid."""

    period_key: str
    buyers: int
    earning: int  # buyers who would earn a rebate
    rebate_cents: int
    actual_earning: int
    actual_rebate_cents: int


async def preview_last_period(session: AsyncSession, ladder: Ladder) -> Preview | None:
    """Apply `ladder` to the stored net spend and tier of the last closed period's statements
    (None when no period is closed yet). Nothing is written."""
    period = await session.scalar(
        select(StatementPeriod).order_by(StatementPeriod.ends_at.desc()).limit(1)
    )
    if period is None:
        return None
    rows = (
        await session.execute(
            select(Statement.rebate_base_cents, Statement.tier_key, Statement.rebate_cents).where(
                Statement.period_id == period.id
            )
        )
    ).all()
    would = [rebate_cents(net, ladder.rate_bp(net, tier)) for net, tier, _ in rows]
    return Preview(
        period.key, len(rows), sum(1 for r in would if r > 0), sum(would),
        sum(1 for *_, paid in rows if paid > 0), sum(paid for *_, paid in rows),
    )  # fmt: skip
