"""The segment language: a JSON filter over buyers, checked, then compiled to one SQL condition.

A segment is a tree of conditions (see ``docs/segments.md``)::

    {"all": [{"field": "tier", "op": "in", "value": ["gold", "silver"]},
             {"field": "days_since_interaction", "op": "gte", "value": 30},
             {"not": {"field": "opted_out", "op": "eq", "value": true}}]}

``compile_segment(spec, now)`` validates the whole tree first (a wrong field, operator or
value raises ``SegmentError`` naming its path, e.g. ``all[1].value``) and returns a single
SQLAlchemy condition over ``bot.models.Buyer``: the database does the filtering, never Python.
Day counts are relative to the `now` the caller passes (an injected clock).

Enumerated fields (tier, business type, interests, province/city/region, customer) refuse values nobody can
have, naming the allowed ones, when the caller passes a ``Vocabulary`` (the API and CLI do at
save and preview): a misspelled ``golden`` is a 400, not a segment of nobody. At run time a
stored spec is compiled as saved, without the vocabulary. How operators' words map onto
stored values, and which values exist, is ``scheduler/segment_vocabulary.py``.

A missing value (no tier, no region) never satisfies a condition, and ``not``/``ne`` treat it
as false before negating, so they mean what an operator expects ("not gold" includes buyers
with no tier). JSON list membership differs between SQLite (``json_each``) and
PostgreSQL (``jsonb @>``); ``scheduler/json_lists.py`` hides it behind one function.

The fields themselves (kinds, operators, value checks, SQL builders) are
``scheduler/segment_fields.py``. This module does not store segments (``scheduler/saved_segments.py``) or send anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    false,
    or_,
    true,
)

from scheduler.segment_fields import FIELDS, negate
from scheduler.segment_vocabulary import Vocabulary, unknown

MAX_DEPTH = 16  # deeper trees are a mistake (or an attack), not a segment


class SegmentError(ValueError):
    """A segment spec that cannot be compiled; `path` says where, `problem` says what."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or '(segment)'}: {problem}")
        self.path = path or "(segment)"
        self.problem = problem


# --- checking and compiling ----------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


Known = Vocabulary | None


def _compile(
    node: Any, path: str, now: datetime, depth: int, known: Known
) -> tuple[ColumnElement[bool], int]:
    """The condition for `node` and its cost rank (cheap column tests first, subqueries last)."""
    if depth > MAX_DEPTH:
        raise SegmentError(path, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(node, dict):
        raise SegmentError(path, "must be an object: a condition or all/any/not")
    combinators = [k for k in ("all", "any", "not") if k in node]
    if combinators:
        if len(node) != 1:
            raise SegmentError(path, f"a '{combinators[0]}' object must have no other keys")
        key = combinators[0]
        child_path = _join(path, key)
        if key == "not":
            inner, cost = _compile(node["not"], child_path, now, depth + 1, known)
            return negate(inner), cost
        children = node[key]
        if not isinstance(children, list):
            raise SegmentError(child_path, "must be a list of conditions")
        parts = [
            _compile(child, f"{child_path}[{i}]", now, depth + 1, known)
            for i, child in enumerate(children)
        ]
        if not parts:  # all of nothing is everyone; any of nothing is no one
            return (true() if key == "all" else false()), 0
        # SQLite evaluates terms in the order written and stops at the first that decides:
        # putting cheap column tests first spares the JSON and RSVP tests most rows.
        parts.sort(key=lambda part: part[1])
        conds = [cond for cond, _ in parts]
        return (and_(*conds) if key == "all" else or_(*conds)), max(c for _, c in parts)
    return _leaf(node, path, now, known)


def _leaf(
    node: dict[str, Any], path: str, now: datetime, known: Known
) -> tuple[ColumnElement[bool], int]:
    extra = sorted(set(node) - {"field", "op", "value"})
    if extra:
        raise SegmentError(
            _join(path, extra[0]),
            "unknown key (a condition has field, op, value; or use all/any/not)",
        )
    for key in ("field", "op", "value"):
        if key not in node:
            raise SegmentError(_join(path, key), "missing")
    name = node["field"]
    field = FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        raise SegmentError(
            _join(path, "field"), f"unknown field {name!r}; known: {', '.join(FIELDS)}"
        )
    op = node["op"]
    check = field.kind.ops.get(op) if isinstance(op, str) else None
    if check is None:
        raise SegmentError(
            _join(path, "op"),
            f"{name} does not take operator {op!r}; it takes: {', '.join(field.kind.ops)}",
        )
    problem = check(node["value"])
    if not problem and known is not None and op not in ("is_set", "is_empty"):
        problem = unknown(name, node["value"], known)
    if problem:
        raise SegmentError(_join(path, "value"), f"{name} {op}: {problem}")
    return field.build(op, node["value"], now), field.kind.cost


def compile_segment(
    spec: Any, now: datetime, vocabulary: Vocabulary | None = None
) -> ColumnElement[bool]:
    """Check `spec` and compile it to one SQL condition over ``Buyer`` (raises SegmentError);
    with a `vocabulary`, enumerated fields refuse values outside it."""
    return _compile(spec, "", now, 0, vocabulary)[0]
