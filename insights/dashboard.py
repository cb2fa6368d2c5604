"""The whole 总览 at once: every section of the period, its KPI row, as plain data.

``dashboard(...)`` is what the console page and ``GET /api/dashboard`` call; each section is
also its own domain function (``insights/metrics.py`` and siblings) for a page that shows one.
The KPI row is the six cards of docs/dashboard.md, each with the previous period's value.

This module only gathers; every definition lives with its section.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Config
from insights.campaign_conversion import campaign_conversion
from insights.cohorts import repurchase_cohorts
from insights.funnel import card_funnel
from insights.metrics import Kpi, customer_status, followers, interaction
from insights.periods import DateRange, previous
from insights.tier_moves import tier_moves

# The KPI row: card key → (section, figure).
KPIS = {
    "followers": ("followers", "followers"),
    "net": ("followers", "net"),
    "new_customers": ("customers", "new"),
    "returning_customers": ("customers", "returning"),
    "active_7": ("interaction", "active_7"),
    "window_share": ("interaction", "window_share"),
}


def tier_ranks(config: Config) -> dict[str, int]:
    return {t.key: t.rank for t in config.tiers.levels}


async def dashboard(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
    *,
    config: Config,
) -> dict[str, Any]:
    """Every figure of the dashboard for the period, as JSON-ready data."""
    args = (session, period, granularity, timezone, clock)
    sections = {
        "followers": await followers(*args),
        "customers": await customer_status(*args, lapsed_months=config.dashboard.lapsed_months),
        "interaction": await interaction(*args),
    }
    kpis: dict[str, Kpi] = {k: sections[s].kpis[f] for k, (s, f) in KPIS.items()}
    prev = previous(period)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "previous": {"from": prev.start.isoformat(), "to": prev.end.isoformat()},
        "granularity": granularity,
        "timezone": timezone.key,
        "lapsed_months": config.dashboard.lapsed_months,
        "computed_at": clock.now().isoformat(),
        "kpis": {
            k: {"value": v.value, "previous": v.previous, "change": v.change}
            for k, v in kpis.items()
        },
        **{name: s.as_dict() for name, s in sections.items()},
        "cohorts": [asdict(c) for c in await repurchase_cohorts(*args)],
        "funnel": asdict(await card_funnel(*args)),
        "tiers": asdict(await tier_moves(*args, ranks=tier_ranks(config))),
        "campaigns": asdict(await campaign_conversion(*args)),
    }
