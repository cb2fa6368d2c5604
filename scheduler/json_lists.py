"""Tests on JSON list columns (channels, interests, tags) that SQLite and PostgreSQL both run.

The two databases spell JSON membership differently — SQLite has ``json_each``, PostgreSQL
has ``jsonb @>`` — so each test is a SQLAlchemy construct with one compilation per dialect.
``json_list_contains(column, value)`` and ``json_list_empty(column)`` are the whole interface;
the segment language (``scheduler/segments.py``) is their user. Other dialects are refused.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_list_has(FunctionElement):  # noqa: N801 (named like the SQL function it stands for)
    """True when the JSON list (first argument) holds the string (second argument)."""

    type = Boolean()
    # Not cached: the SQLite rendering derives extra literals from the bound value.
    inherit_cache = False
    name = "json_list_has"
    # Renders a complete condition: without this SQLAlchemy appends "= 1" on SQLite, which
    # stops SQLite short-circuiting the AND/OR inside it.
    _is_implicitly_boolean = True


class json_list_empty(FunctionElement):  # noqa: N801
    """True when the JSON column holds no element (an empty list, JSON null or SQL NULL)."""

    type = Boolean()
    inherit_cache = True
    name = "json_list_empty"
    _is_implicitly_boolean = True


_ESCAPED_QUOTE = "'" + '\\"' + "'"  # the SQL literal '\"'


@compiles(json_list_has, "sqlite")
def _has_sqlite(element: json_list_has, compiler: Any, **kw: Any) -> str:
    # json_each costs about 1 µs a row, too slow for a million buyers. A substring test for
    # the encoded element with its quotes ("女装", as json.dumps writes it with or without
    # \u escapes; SQLite's own JSON functions write it unescaped) is exact for a list of
    # strings as long as no element holds an escaped quote: quotes then alternate open/close,
    # so '"v"' can only be a whole element. Rows with an escaped quote get the json_each test.
    column_clause, value_clause = element.clauses
    column, value = compiler.process(column_clause, **kw), compiler.process(value_clause, **kw)
    spellings = dict.fromkeys(
        [json.dumps(value_clause.value), json.dumps(value_clause.value, ensure_ascii=False)]
    )
    forms = [compiler.process(literal(form, String()), **kw) for form in spellings]
    quick = " OR ".join(f"instr({column}, {form}) > 0" for form in forms)
    exact = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"
    return f"(({quick}) AND (instr({column}, {_ESCAPED_QUOTE}) = 0 OR {exact}))"


@compiles(json_list_has, "postgresql")
def _has_postgresql(element: json_list_has, compiler: Any, **kw: Any) -> str:
    # jsonb @> '["v"]' is true when the list holds the string "v" (and never errors on a
    # scalar); the bound value stays a plain string so the statement cache stays valid.
    column, value = [compiler.process(c, **kw) for c in element.clauses]
    return f"COALESCE(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)), false)"


@compiles(json_list_empty, "sqlite")
def _empty_sqlite(element: json_list_empty, compiler: Any, **kw: Any) -> str:
    (column,) = [compiler.process(c, **kw) for c in element.clauses]
    return f"(COALESCE(json_array_length({column}), 0) = 0)"  # 0 for non-arrays too


@compiles(json_list_empty, "postgresql")
def _empty_postgresql(element: json_list_empty, compiler: Any, **kw: Any) -> str:
    (column,) = [compiler.process(c, **kw) for c in element.clauses]
    as_jsonb = f"CAST({column} AS JSONB)"
    # jsonb_array_length raises on a scalar, so look at the type first (CASE short-circuits).
    return (
        f"(CASE WHEN jsonb_typeof({as_jsonb}) = 'array' "
        f"THEN jsonb_array_length({as_jsonb}) = 0 ELSE true END)"
    )


def json_list_contains(column: Any, value: str) -> ColumnElement[bool]:
    """The JSON list in `column` holds the string `value` (SQLite and PostgreSQL)."""
    return json_list_has(column, literal(value, String()))
