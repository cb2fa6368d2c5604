"""Drill-down: the buyers behind any figure of the dashboard, a page at a time.

Every figure names itself with a :class:`FigureRef` (``figure`` plus what it needs: the
bucket, a cohort cell, a funnel stage, a campaign …); :func:`figure_buyers` pages the very
query the figure's count was taken from, by buyer id (keyset), with the total. Where the
segment language can say the same (the current tier, following now), :func:`segment_for`
gives the spec, so the console can save it as a segment.

This module does not render buyers; the buyer book does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.models import Buyer
from insights.campaign_conversion import STAGES as CAMPAIGN_STAGES
from insights.campaign_conversion import campaign_buyers
from insights.cohorts import MONTHS, cohort_buyers
from insights.figures import AT, SPAN, Params, figure_query
from insights.funnel import OPTIONAL_FIELDS, STAGES, skipped_buyers, stage_buyers, stuck_buyers
from insights.periods import DateRange, local_midnight
from insights.tier_moves import NONE, moved_buyers

FIGURES = (
    *SPAN,
    *AT,
    "cohort",
    "funnel",
    "stuck",
    "skipped",
    "tier",
    "tier_up",
    "tier_down",
    "campaign",
)
MAX_LIMIT = 1000


class DrillError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FigureRef:
    """Which figure: `figure` plus its parameters (the others are ignored)."""

    figure: str
    period: DateRange  # the bucket (a span figure) or whose end an at figure is taken at
    month: date | None = None  # cohort: its first month
    k: int = 0  # cohort: months after
    reordered: bool = True  # cohort: did (or did not) order in month k
    stage: str | None = None  # funnel / campaign stage
    step: str | None = None  # stuck: the form step
    field: str | None = None  # skipped: the optional card field
    tier: str | None = None  # tier key, or "none"
    campaign_id: int | None = None


@dataclass
class Page:
    total: int
    buyer_ids: list[int]
    next_after: int | None  # pass as `after` for the next page; None: this was the last


def _query(ref: FigureRef, tz: ZoneInfo, p: Params) -> Select:
    lo = local_midnight(ref.period.start, tz)
    hi = min(local_midnight(ref.period.end + timedelta(days=1), tz), max(p.now, lo))
    f = ref.figure
    if f in SPAN or f in AT:
        return figure_query(f, lo, hi, p)
    if f == "cohort":
        if ref.month is None or not 0 <= ref.k < MONTHS:
            raise DrillError("month", f"cohort needs month and k (0-{MONTHS - 1})")
        return cohort_buyers(ref.month.replace(day=1), ref.k, tz, reordered=ref.reordered)
    if f == "funnel":
        if ref.stage not in STAGES:
            raise DrillError("stage", f"stage must be one of {', '.join(STAGES)}")
        return stage_buyers(ref.stage, lo, hi)
    if f == "stuck":
        if not ref.step:
            raise DrillError("step", "stuck needs the step")
        return stuck_buyers(ref.step, lo, hi)
    if f == "skipped":
        if ref.field not in OPTIONAL_FIELDS:
            raise DrillError("field", f"field must be one of {', '.join(OPTIONAL_FIELDS)}")
        return skipped_buyers(ref.field, lo, hi)
    if f == "tier":
        if not ref.tier:
            raise DrillError("tier", "tier needs the tier key (or none)")
        test = Buyer.tier_key.is_(None) if ref.tier == NONE else Buyer.tier_key == ref.tier
        return select(Buyer.id.label("buyer_id")).where(test)
    if f == "campaign":
        if ref.campaign_id is None or ref.stage not in CAMPAIGN_STAGES:
            raise DrillError(
                "stage", "campaign needs campaign_id and stage reached|replied|ordered"
            )
        return campaign_buyers(ref.campaign_id, ref.stage)
    raise DrillError("figure", f"figure must be one of {', '.join(FIGURES)}")


async def figure_buyers(
    session: AsyncSession,
    ref: FigureRef,
    timezone: ZoneInfo,
    clock: Clock,
    *,
    lapsed_months: int = 6,
    ranks: dict[str, int] | None = None,
    after: int = 0,
    limit: int = 100,
) -> Page:
    """A page of the buyer ids behind the figure, in id order after `after`, and their total."""
    limit = max(1, min(limit, MAX_LIMIT))
    now = clock.now()
    if ref.figure in ("tier_up", "tier_down"):
        lo = local_midnight(ref.period.start, timezone)
        hi = local_midnight(ref.period.end + timedelta(days=1), timezone)
        ids = await moved_buyers(session, lo, min(hi, now), ranks or {}, ref.figure[5:])
        rest = [i for i in ids if i > after]
        page = rest[:limit]
        return Page(len(ids), page, page[-1] if len(rest) > limit else None)
    query = _query(ref, timezone, Params(timezone, lapsed_months, now)).subquery()
    total = (await session.execute(select(func.count()).select_from(query))).scalar_one()
    rows = await session.execute(
        select(query.c.buyer_id)
        .where(query.c.buyer_id > after)
        .order_by(query.c.buyer_id)
        .limit(limit + 1)
    )
    ids = [r[0] for r in rows]
    page = ids[:limit]
    return Page(int(total), page, page[-1] if len(ids) > limit else None)


def segment_for(ref: FigureRef, timezone: ZoneInfo, clock: Clock) -> dict[str, Any] | None:
    """The segment spec meaning the same buyers, where the segment language can say it."""
    if ref.figure == "tier" and ref.tier and ref.tier != NONE:
        return {"field": "tier", "op": "in", "value": [ref.tier]}
    end = local_midnight(ref.period.end + timedelta(days=1), timezone)
    if ref.figure == "followers" and end > clock.now():
        return {"field": "subscribed", "op": "eq", "value": True}
    return None
