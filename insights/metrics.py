"""Followers, customer status and interaction per bucket, each with its KPIs and 较上期.

Each domain function takes ``(session, period, granularity, timezone, clock)`` and returns a
:class:`Section`: the bucket labels, one list of values per figure (``None`` for a bucket
still in the future), and the KPIs for the whole period beside the previous period's. Counts
are read through ``insights/rollups.py``; their definitions are ``insights/figures.py``.

This module does not render or page buyers (``insights/drill.py`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from insights.figures import AT, SPLIT, Params, count_of, figure_query, order_split
from insights.periods import Bucket, DateRange, buckets, previous, whole
from insights.rollups import Key, cached


@dataclass(frozen=True)
class Kpi:
    """A figure over the whole period and over the period before it (较上期)."""

    value: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass
class Section:
    granularity: str
    buckets: list[str]
    series: dict[str, list[float | None]] = field(default_factory=dict)
    kpis: dict[str, Kpi] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "granularity": self.granularity,
            "buckets": self.buckets,
            "series": self.series,
            "kpis": {
                k: {"value": v.value, "previous": v.previous, "change": v.change}
                for k, v in self.kpis.items()
            },
        }


def metric_key(name: str, p: Params) -> str:
    """The cache key of a figure: the lapse months are part of the lapsed figure."""
    return f"lapsed:{p.lapsed_months}" if name == "lapsed" else name


def _key(name: str, b: Bucket, p: Params) -> Key:
    """A state figure depends only on the instant it is taken at: the last bucket and the
    whole period share it."""
    if name in AT:
        return (metric_key(name, p), b.hi, b.hi)
    return (metric_key(name, p), b.lo, b.hi)


async def counts(
    session: AsyncSession, names: Sequence[str], spans: Sequence[Bucket], p: Params
) -> dict[tuple[str, Bucket], int | None]:
    """Every figure of `names` for every bucket (future buckets give None)."""
    keys: dict[Key, tuple[str, Bucket]] = {}
    for b in spans:
        if b.lo >= p.now:
            continue
        for name in names:
            keys[_key(name, b, p)] = (name, b)

    async def compute(missing: Sequence[Key]) -> dict[Key, float | None]:
        out: dict[Key, float | None] = {}
        splits_done: set[tuple] = set()
        for key in missing:
            name, b = keys[key]
            if name in SPLIT:
                if (b.lo, b.hi) in splits_done:
                    continue
                splits_done.add((b.lo, b.hi))
                row = (await session.execute(order_split(b.lo, b.hi))).one()
                for split_name in SPLIT:
                    out[_key(split_name, b, p)] = float(getattr(row, f"c_{split_name}") or 0)
            else:
                query = count_of(figure_query(name, b.lo, b.hi, p))
                out[key] = float((await session.execute(query)).scalar_one())
        return {k: v for k, v in out.items() if k in keys}  # the split counts extra

    values = await cached(session, list(keys), compute, p.now)
    result: dict[tuple[str, Bucket], int | None] = {}
    for b in spans:
        for name in names:
            v = None if b.lo >= p.now else values.get(_key(name, b, p))
            result[(name, b)] = None if v is None else int(v)  # counts (the cache holds floats)
    return result


async def section(
    session: AsyncSession,
    names: Sequence[str],
    period: DateRange,
    granularity: str,
    tz: ZoneInfo,
    p: Params,
) -> Section:
    """The per-bucket series of `names` and their whole-period KPIs with the previous ones."""
    spans = buckets(period, granularity, tz)
    here, before = whole(period, tz), whole(previous(period), tz)
    got = await counts(session, names, [*spans, here, before], p)
    out = Section(granularity, [b.key() for b in spans])
    for name in names:
        out.series[name] = [got[(name, b)] for b in spans]
        out.kpis[name] = Kpi(got[(name, here)], got[(name, before)])
    return out


def _params(tz: ZoneInfo, clock: Clock, lapsed_months: int) -> Params:
    return Params(tz=tz, lapsed_months=lapsed_months, now=clock.now())


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 4)


async def followers(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> Section:
    """粉丝增长: ``follows``, ``unfollows`` (distinct buyers), ``net`` (their difference) and
    ``followers`` (following at the bucket's end, or now for the running bucket)."""
    p = _params(timezone, clock, 6)
    out = await section(
        session, ("follows", "unfollows", "followers"), period, granularity, timezone, p
    )
    out.series["net"] = list(map(_minus, out.series["follows"], out.series["unfollows"]))
    f, u = out.kpis["follows"], out.kpis["unfollows"]
    out.kpis["net"] = Kpi(_minus(f.value, u.value), _minus(f.previous, u.previous))
    return out


async def customer_status(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
    *,
    lapsed_months: int = 6,
) -> Section:
    """新老客户: ``new``, ``returning`` (buyers), ``lapsed`` and ``prospects`` (at the bucket's
    end), and the old-vs-new split ``orders_new``/``orders_old`` (counted orders) and
    ``spend_new``/``spend_old`` (yuan)."""
    p = _params(timezone, clock, lapsed_months)
    names = ("lapsed", "prospects", *SPLIT)
    out = await section(session, names, period, granularity, timezone, p)
    for name in ("spend_new", "spend_old"):
        out.series[name] = [None if v is None else v / 100 for v in out.series[name]]
        k = out.kpis[name]
        out.kpis[name] = Kpi(
            None if k.value is None else k.value / 100,
            None if k.previous is None else k.previous / 100,
        )
    return out


async def interaction(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> Section:
    """互动: ``active_7`` / ``active_30`` (buyers who wrote in the 7/30 days before the
    bucket's end), ``in_window`` (followers inside the 48-hour window then) and
    ``window_share`` (in_window over followers, 0-1)."""
    p = _params(timezone, clock, 6)
    names = ("active_7", "active_30", "in_window", "followers")
    out = await section(session, names, period, granularity, timezone, p)
    out.series["window_share"] = list(map(_ratio, out.series["in_window"], out.series["followers"]))
    w, f = out.kpis["in_window"], out.kpis["followers"]
    out.kpis["window_share"] = Kpi(_ratio(w.value, f.value), _ratio(w.previous, f.previous))
    return out
