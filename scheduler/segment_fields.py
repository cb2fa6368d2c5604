"""The segment vocabulary: every field an operator can filter buyers on, its operators and
the SQL each one becomes.

``FIELDS`` maps a field name (``tier``, ``region``, ``days_since_interaction`` …) to its kind
(which operators it takes and how values are checked) and its builder (``(op, value, now) ->``
a condition over ``bot.models.Buyer``). Card words (business types, channels, interests,
regions) are the card's own vocabularies, from ``members.card``. A new field is one entry here
and one line in ``docs/segments.md``.

This module does not walk segment trees or name paths in errors: ``scheduler/segments.py``
checks and compiles a whole spec with these fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    true,
)

from bot.models import REORDER_STATES, Buyer
from members.card.choices import BUSINESS_TYPES, CHANNELS, INTEREST_SYNONYMS
from scheduler.json_lists import json_list_contains, json_list_empty
from scheduler.models import Rsvp  # the campaigns feature owns RSVPs
from scheduler.segment_vocabulary import (
    business_type_key,
    canonical_words,
    city_spellings,
    province_spellings,
)

# Numbers past what a column holds are a mistake too, and would overflow the database driver.
MAX_NUMBER = 10**12  # orders and spend (¥); well past any buyer, well inside BIGINT and float
MAX_DAYS = 36_500  # a hundred years; timedelta overflows near 10**9 days
MAX_CAMPAIGN_ID = 2**63 - 1

# --- kinds and fields --------------------------------------------------------------------------------

Build = Callable[[str, Any, datetime], ColumnElement[bool]]


@dataclass(frozen=True)
class Kind:
    """A kind of field: its operators and how each operator's value is checked."""

    name: str
    ops: dict[str, Callable[[Any], str | None]]  # op -> value check (None = fine, else problem)
    cost: int = 0  # evaluation cost rank: 0 a column test, 1 a JSON list test, 2 a subquery


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    build: Build
    doc: str


def _is_text(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _text(v: Any) -> str | None:
    return None if _is_text(v) else "must be a non-empty string"


def _texts(v: Any) -> str | None:
    if isinstance(v, list) and v and all(_is_text(x) for x in v):
        return None
    return "must be a non-empty list of non-empty strings"


def _flag(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _number(v: Any) -> str | None:
    if _is_number(v) and abs(v) <= MAX_NUMBER:
        return None
    return f"must be a number from -{MAX_NUMBER} to {MAX_NUMBER}"


def _days(v: Any) -> str | None:
    if _is_number(v) and 0 <= v <= MAX_DAYS:
        return None
    return f"must be a number of days (0 or more, at most {MAX_DAYS})"


def _range(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def checked(v: Any) -> str | None:
        if not (isinstance(v, list) and len(v) == 2) or any(check(x) for x in v):
            return "must be [low, high], two numbers"
        return None if v[0] <= v[1] else "must be [low, high] with low <= high"

    return checked


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def checked(v: Any) -> str | None:
        return None if v in allowed else f"must be one of {', '.join(allowed)}"

    return checked


def _some_of(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def checked(v: Any) -> str | None:
        if isinstance(v, list) and v and all(x in allowed for x in v):
            return None
        return f"must be a non-empty list of {', '.join(allowed)}"

    return checked


def _each(check: Callable[[Any], str | None], what: str) -> Callable[[Any], str | None]:
    """A check for a non-empty list whose every item passes `check`."""

    def checked(v: Any) -> str | None:
        if not isinstance(v, list) or not v:
            return f"must be a non-empty list of {what}"
        return next(filter(None, map(check, v)), None)

    return checked


def _business_type(v: Any) -> str | None:
    if not _is_text(v):
        return "must be a non-empty string"
    if business_type_key(v) in BUSINESS_TYPES:
        return None
    return f"unknown business type {v!r}; known: {', '.join(BUSINESS_TYPES)}"


def _campaign_id(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_CAMPAIGN_ID
    return None if ok else "must be a campaign id (a positive integer)"


def _campaign_ids(v: Any) -> str | None:
    if isinstance(v, list) and v and not any(_campaign_id(x) for x in v):
        return None
    return "must be a non-empty list of campaign ids"


TEXT = Kind("text", {"eq": _text, "ne": _text, "in": _texts, "not_in": _texts, "is_set": _flag})
BUSINESS = Kind(
    "business_type",
    {
        "eq": _business_type,
        "ne": _business_type,
        "in": _each(_business_type, "business types"),
        "not_in": _each(_business_type, "business types"),
        "is_set": _flag,
    },
)
LIST = Kind(
    "list",
    {"contains": _text, "contains_any": _texts, "contains_all": _texts, "is_empty": _flag},
    cost=1,
)
NUMBER = Kind(
    "number",
    {op: _number for op in ("eq", "ne", "gt", "gte", "lt", "lte")} | {"between": _range(_number)},
)
DAYS = Kind("days", {op: _days for op in ("gt", "gte", "lt", "lte")} | {"between": _range(_days)})
FLAG = Kind("flag", {"eq": _flag})
CUSTOMER_KINDS = ("prospect", "new", "returning")
CUSTOMER = Kind("customer", {"eq": _one_of(CUSTOMER_KINDS), "in": _some_of(CUSTOMER_KINDS)})
RSVP = Kind("rsvp", {"eq": _campaign_id, "in": _campaign_ids}, cost=2)
REORDER = Kind("reorder", {"eq": _one_of(REORDER_STATES), "in": _some_of(REORDER_STATES)})


def negate(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT, with a missing value (SQL NULL) counted as false first, so "not gold" includes
    buyers with no tier. Only negation needs this: under AND/OR alone a NULL ends up excluded
    exactly as false would, so leaves stay plain comparisons (cheaper to scan)."""
    return not_(func.coalesce(condition, false()))


def _text_field(column: Any, spellings: Callable[[str], set[str]] = lambda v: {v}) -> Build:
    """eq/ne/in/not_in/is_set over a text column; `spellings` gives what a value is stored as."""

    def build(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
        if op == "is_set":
            return column.is_not(None) if value else column.is_(None)
        wanted = sorted(set().union(*(spellings(v) for v in _as_list(value))))
        match = column.in_(wanted)
        return negate(match) if op in ("ne", "not_in") else match

    return build


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _region(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    if op == "is_set":
        either = or_(Buyer.province.is_not(None), Buyer.city.is_not(None))
        return either if value else not_(either)
    names = _as_list(value)
    provinces = sorted(set().union(*(province_spellings(v) for v in names)))
    cities = sorted(set().union(*(city_spellings(v) for v in names)))
    match = or_(
        Buyer.province.in_(provinces),
        Buyer.city.in_(cities),
    )
    return negate(match) if op in ("ne", "not_in") else match


def _list_field(column: Any, canonical: Callable[[str], str] = lambda v: v) -> Build:
    def build(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
        if op == "is_empty":
            empty = json_list_empty(column)
            return empty if value else not_(empty)
        tests = [json_list_contains(column, canonical(v)) for v in _as_list(value)]
        return and_(*tests) if op == "contains_all" else or_(*tests)

    return build


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "between":
        return column.between(value[0], value[1])
    return {
        "eq": column == value,
        "ne": column != value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }[op]


def _number_field(column: Any) -> Build:
    def build(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
        return _compare(column, op, value)

    return build


def _age_condition(column: Any, op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    """Elapsed days since `column` compared with `value`: "gte 30" means 30 days or more ago."""

    def cutoff(days: float) -> datetime:
        return now - timedelta(days=days)

    # More days elapsed means an earlier timestamp, so the comparison flips.
    if op == "between":
        cond = column.between(cutoff(value[1]), cutoff(value[0]))
    else:
        flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}[op]
        cond = _compare(column, flipped, cutoff(value))
    return cond


def _days_since_follow(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    return _age_condition(Buyer.subscribed_at, op, value, now)


def _days_since_interaction(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    # A buyer who never interacted (created by an import) counts from when first seen.
    # One COALESCE (a plain scan) beats an OR over the index: most dormancy segments match
    # a large share of buyers, where random index lookups cost more than reading the table.
    return _age_condition(
        func.coalesce(Buyer.last_interaction_at, Buyer.first_seen_at), op, value, now
    )


def _flag_field(column: Any) -> Build:
    def build(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
        return column.is_(true()) if value else column.is_(false())

    return build


def _has_card(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    done = Buyer.card_completed_at.is_not(None)
    return done if value else not_(done)


def _imported(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    found = Buyer.imported_at.is_not(None)
    return found if value else not_(found)


def _customer(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    kinds = [value] if op == "eq" else list(value)
    by_kind = {
        "prospect": Buyer.orders_total == 0,
        "new": Buyer.orders_total == 1,
        "returning": Buyer.orders_total >= 2,
    }
    return or_(*(by_kind[k] for k in kinds))


def _rsvp(op: str, value: Any, now: datetime) -> ColumnElement[bool]:

    ids = [value] if op == "eq" else list(value)
    return exists().where(Rsvp.buyer_id == Buyer.id, Rsvp.campaign_id.in_(ids))


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("tier", TEXT, _text_field(Buyer.tier_key), "effective tier key (gold, silver …)"),
        Field(
            "business_type",
            BUSINESS,
            _text_field(Buyer.business_type, lambda v: {business_type_key(v)}),
            "card: business type (taobao, social, … or its Chinese name)",
        ),
        Field("province", TEXT, _text_field(Buyer.province, province_spellings), "card: province"),
        Field("city", TEXT, _text_field(Buyer.city, city_spellings), "card: city"),
        Field("region", TEXT, _region, "card: province or city"),
        Field("qr_scene", TEXT, _text_field(Buyer.qr_scene), "QR scene the buyer followed from"),
        Field("openid", TEXT, _text_field(Buyer.openid), "the buyer's openid"),
        Field(
            "channels",
            LIST,
            _list_field(Buyer.channels, canonical_words(CHANNELS)),
            "card: channels",
        ),
        Field(
            "interests",
            LIST,
            _list_field(Buyer.interests, canonical_words(INTEREST_SYNONYMS)),
            "card: product interests",
        ),
        Field("tags", LIST, _list_field(Buyer.tags), "operator tags"),
        Field("subscribed", FLAG, _flag_field(Buyer.subscribed), "follows the account now"),
        Field("opted_out", FLAG, _flag_field(Buyer.opted_out), "sent 退订 (no campaign pushes)"),
        Field("has_card", FLAG, _has_card, "completed the business card"),
        Field(
            "imported", FLAG, _imported, "first known from the follower sync (had never written)"
        ),
        Field("days_since_follow", DAYS, _days_since_follow, "days since the (last) follow"),
        Field(
            "days_since_interaction", DAYS, _days_since_interaction, "days since last message/event"
        ),
        Field(
            "orders_12m", NUMBER, _number_field(Buyer.orders_12m), "orders in the last 12 months"
        ),
        Field("orders_total", NUMBER, _number_field(Buyer.orders_total), "orders ever"),
        Field(
            "spend_12m", NUMBER, _number_field(Buyer.spend_12m), "spend in the last 12 months (¥)"
        ),
        Field("customer", CUSTOMER, _customer, "prospect (0 orders), new (1), returning (2+)"),
        Field("rsvp", RSVP, _rsvp, "RSVP'd to the livestream campaign(s) with these ids"),
        Field(
            "reorder_state",
            REORDER,
            lambda op, value, now: Buyer.reorder_state.in_(_as_list(value)),
            "reorder rhythm: on_rhythm, due, overdue, lapsed (buyers with orders)",
        ),
        Field(
            "days_overdue",
            NUMBER,
            _number_field(Buyer.days_overdue),
            "days past the expected next order (0 before it)",
        ),
        Field("cycle_days", NUMBER, _number_field(Buyer.cycle_days), "reorder cycle in days"),
    )
}
