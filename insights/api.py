"""Operator API for the dashboard: every figure of a period, and the buyers behind each one.

``GET /api/dashboard?from=&to=&granularity=`` returns what ``insights.dashboard.dashboard``
computes; ``GET /api/dashboard/buyers?figure=…`` pages the buyer ids behind one figure
(parameters as in docs/dashboard.md). Bad parameters are 400s naming the parameter.
Thin: parsing here, definitions in the domain modules.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.api import ApiError, ApiRoutes
from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from insights.dashboard import dashboard, tier_ranks
from insights.drill import MAX_LIMIT, DrillError, FigureRef, figure_buyers, segment_for
from insights.periods import PeriodError, check_granularity, parse_range

routes = ApiRoutes("dashboard")


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.config_dict[CONFIG].dashboard.timezone)


def _period(request: web.Request, tz: ZoneInfo):
    today = request.config_dict[CLOCK].now().astimezone(tz).date()
    q = request.query
    try:
        return parse_range(q.get("from"), q.get("to"), today)
    except PeriodError as exc:
        raise ApiError(400, f"{exc.field}: {exc}", field=exc.field) from None


def _int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name}: must be a whole number from {low} to {high}", field=name)
    return int(raw)


@routes.route(
    "GET",
    "/dashboard",
    "Every dashboard figure of a period, per bucket, with the previous period's",
    query={
        "from": "first local date (YYYY-MM-DD, default 29 days before `to`)",
        "to": "last local date (YYYY-MM-DD, default today)",
        "granularity": "day | week | month (default day)",
    },
)
async def dashboard_endpoint(request: web.Request) -> dict[str, Any]:
    tz = _tz(request)
    period = _period(request, tz)
    try:
        granularity = check_granularity(request.query.get("granularity", "day"))
        async with request.config_dict[SESSIONMAKER].begin() as session:
            return await dashboard(
                session,
                period,
                granularity,
                tz,
                request.config_dict[CLOCK],
                config=request.config_dict[CONFIG],
            )
    except PeriodError as exc:
        raise ApiError(400, f"{exc.field}: {exc}", field=exc.field) from None


@routes.route(
    "GET",
    "/dashboard/buyers",
    "The buyer ids behind one dashboard figure, a page at a time",
    query={
        "figure": "follows, unfollows, new, returning, followers, lapsed, prospects, active_7, "
        "active_30, in_window, cohort, funnel, stuck, skipped, tier, tier_up, tier_down, campaign",
        "from": "the bucket's first local date",
        "to": "the bucket's last local date (an at-figure is taken at its end)",
        "month": "cohort: its month (YYYY-MM)",
        "k": "cohort: months after the first (0-11)",
        "reordered": "cohort: true (default) for those who ordered in month k, false for not",
        "stage": "funnel: followed…matched; campaign: reached, replied, ordered",
        "step": "stuck: the card question",
        "field": "skipped: the optional card field",
        "tier": "tier: the tier key, or none",
        "campaign_id": "campaign: its id",
        "after": "the last buyer id of the previous page",
        "limit": f"buyers per page (1-{MAX_LIMIT}, default 100)",
    },
)
async def figure_buyers_endpoint(request: web.Request) -> dict[str, Any]:
    config = request.config_dict[CONFIG]
    clock = request.config_dict[CLOCK]
    tz = _tz(request)
    q = request.query
    month = None
    if q.get("month"):
        try:
            month = date.fromisoformat(q["month"] + "-01")
        except ValueError:
            raise ApiError(400, "month: must be like 2026-05", field="month") from None
    ref = FigureRef(
        figure=q.get("figure", ""),
        period=_period(request, tz),
        month=month,
        k=_int(request, "k", 0, 0, 11) or 0,
        reordered=q.get("reordered", "true").lower() != "false",
        stage=q.get("stage"),
        step=q.get("step"),
        field=q.get("field"),
        tier=q.get("tier"),
        campaign_id=_int(request, "campaign_id", None, 0, 2**31 - 1),
    )
    after = _int(request, "after", 0, 0, 2**63 - 1) or 0
    limit = _int(request, "limit", 100, 1, MAX_LIMIT) or 100
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            page = await figure_buyers(
                session,
                ref,
                tz,
                clock,
                lapsed_months=config.dashboard.lapsed_months,
                ranks=tier_ranks(config),
                after=after,
                limit=limit,
            )
        except DrillError as exc:
            raise ApiError(400, f"{exc.field}: {exc}", field=exc.field) from None
    return {
        "figure": ref.figure,
        "total": page.total,
        "buyer_ids": page.buyer_ids,
        "next_after": page.next_after,
        "segment": segment_for(ref, tz, clock),
    }
