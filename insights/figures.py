"""Every per-bucket figure of the dashboard as the query of the buyer ids behind it.

A *span* figure is about what happened in ``[lo, hi)`` (new follows, new customers …); an
*at* figure is a state at the instant ``at`` (followers, lapsed customers, senders of the
last 7 days …). ``count_of`` counts such a query; the drill-down pages the same query, so a
number and its list of buyers always agree. A counted order is ``orders.counted`` (not
refunded, cancelled or unpaid) and linked to a buyer.

This module builds statements only; caching is ``insights/rollups.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from bot.inbound.buyers import NOT_INTERACTIONS
from bot.inbound.events import FOLLOW, UNFOLLOW, BuyerEvent
from bot.models import Buyer, InboundMessage
from insights.periods import add_months
from members.orders import Order

WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class Params:
    """What figures depend on besides their interval."""

    tz: ZoneInfo
    lapsed_months: int
    now: datetime


def _counted(o=Order):
    return and_(o.counted.is_(True), o.buyer_id.is_not(None))


def _ordered_before(o, when):
    """The buyer of order row `o` has a counted order before `when`."""
    p = aliased(Order)
    return exists().where(p.buyer_id == o.buyer_id, p.counted.is_(True), p.ordered_at < when)


# --- span figures: [lo, hi) ------------------------------------------------------------------


def follows(lo: datetime, hi: datetime, p: Params) -> Select:
    """Distinct buyers with a follow event in the bucket (a re-follow counts once)."""
    return _event_buyers(FOLLOW, lo, hi)


def unfollows(lo: datetime, hi: datetime, p: Params) -> Select:
    """Distinct buyers with an unfollow event in the bucket."""
    return _event_buyers(UNFOLLOW, lo, hi)


def _event_buyers(kind: str, lo: datetime, hi: datetime) -> Select:
    e = BuyerEvent
    return (
        select(e.buyer_id.label("buyer_id")).where(e.kind == kind, e.at >= lo, e.at < hi).distinct()
    )


def new_customers(lo: datetime, hi: datetime, p: Params) -> Select:
    """Buyers whose first counted order ever is in the bucket."""
    o = Order
    return (
        select(o.buyer_id.label("buyer_id"))
        .where(_counted(o), o.ordered_at >= lo, o.ordered_at < hi, ~_ordered_before(o, lo))
        .distinct()
    )


def returning_customers(lo: datetime, hi: datetime, p: Params) -> Select:
    """Buyers with a counted order in the bucket and one before it."""
    o = Order
    return (
        select(o.buyer_id.label("buyer_id"))
        .where(_counted(o), o.ordered_at >= lo, o.ordered_at < hi, _ordered_before(o, lo))
        .distinct()
    )


def order_split(lo: datetime, hi: datetime) -> Select:
    """In one pass over the bucket's counted orders, grouped by buyer: ``new`` and
    ``returning`` buyers (the same tests as :func:`new_customers` and
    :func:`returning_customers`), and the counted orders and spend (cents) split by them, as
    ``c_<figure>`` (``returning`` is an SQL word). "Ordered before" is asked once per buyer;
    the materialised CTEs keep the database from repeating it per sum."""
    o = Order
    per_buyer = (
        select(
            o.buyer_id.label("buyer_id"),
            func.count().label("n"),
            func.sum(o.amount_cents).label("cents"),
        )
        .where(_counted(o), o.ordered_at >= lo, o.ordered_at < hi)
        .group_by(o.buyer_id)
        .cte("bucket_buyers")
        .prefix_with("MATERIALIZED")
    )
    p = aliased(Order)
    before = exists().where(
        p.buyer_id == per_buyer.c.buyer_id, p.counted.is_(True), p.ordered_at < lo
    )
    flags = (
        select(per_buyer.c.n, per_buyer.c.cents, case((before, 1), else_=0).label("old"))
        .cte("bucket_flags")
        .prefix_with("MATERIALIZED")
    )
    c = flags.c
    return select(
        func.coalesce(func.sum(1 - c.old), 0).label("c_new"),
        func.coalesce(func.sum(c.old), 0).label("c_returning"),
        func.coalesce(func.sum((1 - c.old) * c.n), 0).label("c_orders_new"),
        func.coalesce(func.sum(c.old * c.n), 0).label("c_orders_old"),
        func.coalesce(func.sum((1 - c.old) * c.cents), 0).label("c_spend_new"),
        func.coalesce(func.sum(c.old * c.cents), 0).label("c_spend_old"),
    ).select_from(flags)


# --- at figures: a state at an instant ---------------------------------------------------------


def _last_follow_state(at: datetime, before: bool = True):
    """The kind of the buyer's last follow/unfollow event before `at` (first after, if not
    `before`), as a correlated scalar subquery over ``buyers``."""
    e = aliased(BuyerEvent)
    q = select(e.kind).where(e.buyer_id == Buyer.id, e.kind.in_((FOLLOW, UNFOLLOW)))
    if before:
        q = q.where(e.at < at).order_by(e.at.desc(), e.id.desc())
    else:
        q = q.where(e.at >= at).order_by(e.at, e.id)
    return q.limit(1).scalar_subquery()


def followers(at: datetime, p: Params) -> Select:
    """Buyers following at `at`: their last follow/unfollow before it was a follow; with none
    before it, followers from before Laoke's history (first seen earlier and either
    unfollowing later or still following with no event at all)."""
    if at >= p.now:
        return select(Buyer.id.label("buyer_id")).where(Buyer.subscribed.is_(True))
    last = _last_follow_state(at)
    first_after = _last_follow_state(at, before=False)
    return select(Buyer.id.label("buyer_id")).where(
        Buyer.first_seen_at < at,
        or_(
            last == FOLLOW,
            and_(
                last.is_(None),
                or_(
                    first_after == UNFOLLOW,
                    and_(first_after.is_(None), Buyer.subscribed.is_(True)),
                ),
            ),
        ),
    )


def lapsed_cut(at: datetime, p: Params) -> datetime:
    """`at` minus the lapse months, in local time."""
    local = at.astimezone(p.tz)
    first = add_months(local.date(), -p.lapsed_months)
    day = min(local.day, _month_days(first))
    return local.replace(year=first.year, month=first.month, day=day).astimezone(at.tzinfo)


def _month_days(first) -> int:
    return (add_months(first, 1) - first).days


def lapsed(at: datetime, p: Params) -> Select:
    """Buyers with a counted order before `at` whose last one is older than the lapse months."""
    o = Order
    return (
        select(o.buyer_id.label("buyer_id"))
        .where(_counted(o), o.ordered_at < at)
        .group_by(o.buyer_id)
        .having(func.max(o.ordered_at) < lapsed_cut(at, p))
    )


def prospects(at: datetime, p: Params) -> Select:
    """Buyers known at `at` with no counted order before it."""
    if at >= p.now:
        # Now: the buyer row's own count of counted orders (kept by every import/recompute).
        return select(Buyer.id.label("buyer_id")).where(Buyer.orders_total == 0)
    o = Order
    has = exists().where(o.buyer_id == Buyer.id, o.counted.is_(True), o.ordered_at < at)
    return select(Buyer.id.label("buyer_id")).where(Buyer.first_seen_at < at, ~has)


def senders(lo: datetime, hi: datetime) -> Select:
    """Buyers who sent a message (events excluded) in ``[lo, hi)``."""
    m = InboundMessage
    return select(Buyer.id.label("buyer_id")).where(
        Buyer.openid.in_(
            select(m.openid).where(m.received_at >= lo, m.received_at < hi, m.msg_type != "event")
        )
    )


def active_7(at: datetime, p: Params) -> Select:
    return senders(at - timedelta(days=7), at)


def active_30(at: datetime, p: Params) -> Select:
    return senders(at - timedelta(days=30), at)


def in_window(at: datetime, p: Params) -> Select:
    """Followers at `at` whose last message or event (not an unfollow, not WeChat's own job
    reports) is less than 48 hours old: those a customer-service message could reach."""
    m = InboundMessage
    touched = select(m.openid).where(
        m.received_at >= at - WINDOW,
        m.received_at < at,
        or_(m.event.is_(None), m.event.not_in((*NOT_INTERACTIONS, "unsubscribe"))),
    )
    last = _last_follow_state(at)
    return select(Buyer.id.label("buyer_id")).where(
        Buyer.openid.in_(touched), or_(last.is_(None), last == FOLLOW)
    )


def count_of(query: Select) -> Select:
    return select(func.count()).select_from(query.subquery())


SPAN = {
    "follows": follows,
    "unfollows": unfollows,
    "new": new_customers,
    "returning": returning_customers,
}
AT = {
    "followers": followers,
    "lapsed": lapsed,
    "prospects": prospects,
    "active_7": active_7,
    "active_30": active_30,
    "in_window": in_window,
}
# Figures counted together by :func:`order_split`, one pass per bucket.
SPLIT = ("new", "returning", "orders_new", "orders_old", "spend_new", "spend_old")


def figure_query(name: str, lo: datetime, hi: datetime, p: Params) -> Select:
    """The buyer ids of a per-bucket figure (an at figure is taken at the bucket's end)."""
    if name in SPAN:
        return SPAN[name](lo, hi, p)
    if name in AT:
        return AT[name](min(hi, p.now), p)
    raise KeyError(name)
