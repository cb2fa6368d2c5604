"""The card funnel (名片漏斗): followed in the period → invited → consented → confirmed → matched.

The funnel follows the buyers who followed in the period (a follow event in it, not one the
follower sync imported: the bot never had the chance to invite a follower from before Laoke)
and asks, for each, how far they had come by the period's end: shown the card's consent notice
(``card_invited``), agreed (``card_consented``), confirmed the card (``card_confirmed``), and
have a counted order linked to them dated before the end (matched; a refunded, cancelled
or unpaid order does not match, as it counts for no other customer figure either). Each stage is a subset of the
one before. Beside it: the question buyers with an unfinished card stand at now (their open
``form_states`` step), and how often each optional field was skipped on confirmed cards.

This module reads; it never changes a card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.dialog.forms.store import FormState
from bot.inbound.events import CARD_CONFIRMED, CARD_CONSENTED, CARD_INVITED, FOLLOW, BuyerEvent
from bot.models import Buyer
from insights.periods import DateRange, previous, whole
from insights.rollups import cached
from members.orders import Order
from scheduler.json_lists import json_list_empty

STAGES = ("followed", "invited", "consented", "confirmed", "matched")
_STEP_EVENTS = {"invited": CARD_INVITED, "consented": CARD_CONSENTED, "confirmed": CARD_CONFIRMED}

# Optional card fields and how a skipped one looks on the buyer row.
OPTIONAL_FIELDS = {
    "company": ("公司/店铺", Buyer.company.is_(None)),
    "channels": ("销售渠道", or_(Buyer.channels.is_(None), json_list_empty(Buyer.channels))),
    "volume": ("月采购量", Buyer.volume_min.is_(None)),
    "phone": ("手机号", Buyer.phone.is_(None)),
    "platform_account": ("平台账号", Buyer.platform_account.is_(None)),
}


@dataclass
class Stage:
    name: str
    buyers: int
    previous_period: int | None


@dataclass
class Funnel:
    stages: list[Stage]
    stuck_at: list[tuple[str, int]]  # (form step, buyers standing there)
    skipped: list[tuple[str, str, int]]  # (field, label, confirmed cards without it)
    confirmed: int


def _matched(buyer_id, hi: datetime):
    """The buyer has a counted order (not refunded, cancelled or unpaid) dated before `hi`:
    the same orders every other customer figure counts."""
    return exists().where(
        Order.buyer_id == buyer_id, Order.counted.is_(True), Order.ordered_at < hi
    )


def stage_buyers(stage: str, lo: datetime, hi: datetime) -> Select:
    """The buyers who reached `stage` (and every stage before it) by `hi`."""
    e = BuyerEvent
    query = (
        select(e.buyer_id.label("buyer_id"))
        .where(e.kind == FOLLOW, e.imported.is_(False), e.at >= lo, e.at < hi)
        .distinct()
    )
    for name in STAGES[1 : STAGES.index(stage) + 1]:
        col = query.subquery().c.buyer_id
        if name == "matched":
            test = _matched(col, hi)
        else:
            step = BuyerEvent.__table__.alias()
            test = exists().where(
                step.c.buyer_id == col, step.c.kind == _STEP_EVENTS[name], step.c.at < hi
            )
        query = select(col.label("buyer_id")).where(test)
    return query


def funnel_counts(lo: datetime, hi: datetime) -> Select:
    """Every stage's count and every field's skips in one pass over the period's followers:
    the same tests as :func:`stage_buyers` and :func:`skipped_buyers`, each evaluated once
    per buyer (a materialised CTE keeps the database from repeating them)."""
    e = BuyerEvent
    followed = (
        select(e.buyer_id.label("buyer_id"))
        .where(e.kind == FOLLOW, e.imported.is_(False), e.at >= lo, e.at < hi)
        .distinct()
        .subquery()
    )
    col = followed.c.buyer_id

    def flag(test):
        return case((test, 1), else_=0)

    steps = {}
    for name, kind in _STEP_EVENTS.items():
        step = BuyerEvent.__table__.alias()
        steps[name] = flag(
            exists().where(step.c.buyer_id == col, step.c.kind == kind, step.c.at < hi)
        )
    steps["matched"] = flag(_matched(col, hi))
    skips = {f"skipped_{name}": flag(test) for name, (_label, test) in OPTIONAL_FIELDS.items()}
    flags = (
        select(*(v.label(k) for k, v in {**steps, **skips}.items()))
        .select_from(followed.join(Buyer, Buyer.id == col, isouter=True))
        .cte("funnel_flags")
        .prefix_with("MATERIALIZED")
    )
    c = flags.c
    reached = [c.invited, c.invited * c.consented]
    reached.append(reached[-1] * c.confirmed)
    reached.append(reached[-1] * c.matched)
    sums = [func.count().label("followed")]
    sums += [func.sum(r).label(n) for r, n in zip(reached, STAGES[1:], strict=True)]
    sums += [func.sum(reached[2] * c[k]).label(k) for k in skips]
    return select(*sums).select_from(flags)


def _followed_in(lo: datetime, hi: datetime):
    """The form's buyer followed in ``[lo, hi)`` (one index lookup per open form)."""
    e = BuyerEvent
    return exists().where(
        e.buyer_id == FormState.buyer_id,
        e.kind == FOLLOW,
        e.imported.is_(False),
        e.at >= lo,
        e.at < hi,
    )


def stuck_buyers(step: str, lo: datetime, hi: datetime) -> Select:
    """Buyers of the funnel with an unfinished card standing at `step` now."""
    return select(FormState.buyer_id.label("buyer_id")).where(
        FormState.form == "card", FormState.step == step, _followed_in(lo, hi)
    )


def skipped_buyers(field: str, lo: datetime, hi: datetime) -> Select:
    """Buyers of the funnel who confirmed a card without the optional `field`."""
    confirmed = stage_buyers("confirmed", lo, hi)
    return select(Buyer.id.label("buyer_id")).where(
        Buyer.id.in_(confirmed), OPTIONAL_FIELDS[field][1]
    )


async def card_funnel(
    session: AsyncSession,
    period: DateRange,
    granularity: str,
    timezone: ZoneInfo,
    clock: Clock,
) -> Funnel:
    """The funnel of the period (granularity is not used: it is one funnel per period)."""
    now = clock.now()
    here, before = whole(period, timezone), whole(previous(period), timezone)
    spans = [b for b in (here, before) if b.lo < now]
    keys = [(f"funnel:{s}", b.lo, b.hi) for b in spans for s in STAGES]
    keys += [(f"skipped:{f}", here.lo, here.hi) for f in OPTIONAL_FIELDS if here.lo < now]

    async def compute(missing):
        out = {}
        for lo, hi in {(k[1], k[2]) for k in missing}:
            row = (await session.execute(funnel_counts(lo, min(hi, now)))).one()
            for name in STAGES:
                out[(f"funnel:{name}", lo, hi)] = float(getattr(row, name) or 0)
            for name in OPTIONAL_FIELDS:
                out[(f"skipped:{name}", lo, hi)] = float(getattr(row, f"skipped_{name}") or 0)
        return {k: out[k] for k in missing}

    got = await cached(session, keys, compute, now)

    def value(metric: str, b) -> int | None:
        v = got.get((metric, b.lo, b.hi))
        return None if v is None else int(v)

    stages = [
        Stage(s, value(f"funnel:{s}", here) or 0, value(f"funnel:{s}", before)) for s in STAGES
    ]
    stuck = await session.execute(
        select(FormState.step, func.count())
        .where(FormState.form == "card", _followed_in(here.lo, min(here.hi, now)))
        .group_by(FormState.step)
        .order_by(func.count().desc())
    )
    skipped = sorted(
        ((f, label, value(f"skipped:{f}", here) or 0) for f, (label, _) in OPTIONAL_FIELDS.items()),
        key=lambda t: -t[2],
    )
    return Funnel(stages, [(step, int(n)) for step, n in stuck], skipped, stages[3].buyers)
