"""Core statements compiled once and run straight on the ``sqlite3`` cursor.

The webhook's claim and outcome writes run thousands of times a second on SQLite, where
SQLAlchemy's per-execution work (cache lookup, parameter and result set-up) costs several
times what SQLite itself does. A :class:`Prepared` statement keeps what SQLAlchemy compiled —
the SQL text, the parameter order, SQLAlchemy's own bind and result processors for each column
type (so a ``UTCDateTime`` or JSON column is stored and read exactly as the ORM does) and the
columns' Python-side defaults — and executes it on the raw DBAPI connection inside the
caller's transaction.

Only for the synchronous ``sqlite3`` driver (the group-commit writer's); every other
connection gets the statement through SQLAlchemy as usual (:func:`run`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect


class Prepared:
    """One statement, compiled for one dialect, with its parameter and result processing."""

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        processors = compiled._bind_processors
        self.binds = [(name, processors.get(name)) for name in compiled.positiontup or ()]
        # Python-side column defaults (tags=[], orders_12m=0 …) that Core would fill in.
        self.defaults: dict[str, Any] = {}
        for column in getattr(compiled, "insert_prefetch", ()):
            default = column.default
            if default is not None and default.is_scalar:
                self.defaults[column.key] = lambda arg=default.arg: arg
            elif default is not None and default.is_callable:
                self.defaults[column.key] = lambda fn=default.arg: fn(None)
        # Literal values written into the statement (status="processing") are bound too.
        for name, bind in compiled.binds.items():
            if name not in self.defaults and not bind.required:
                self.defaults[name] = lambda value=bind.effective_value: value
        returning = compiled.effective_returning or ()
        self.keys = [column.key for column in returning]
        self.results = [column.type._cached_result_processor(dialect, None) for column in returning]
        self.pairs = list(zip(self.keys, self.results, strict=True))

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, process in self.binds:
            value = params[name] if name in params else self.defaults[name]()
            out.append(process(value) if process is not None else value)
        return out

    def rows(self, raw_rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        pairs = self.pairs  # built once: this runs for every claimed message
        return [
            {
                key: (process(value) if process else value)
                for (key, process), value in zip(pairs, row, strict=True)
            }
            for row in raw_rows
        ]


_CACHE: dict[tuple[int, str], Prepared] = {}


def is_raw_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite" and conn.dialect.driver == "pysqlite"


def prepared(stmt: Any, conn: Connection) -> Prepared:
    key = (id(stmt), conn.dialect.name)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = Prepared(stmt, conn.dialect)
    return found


def run(conn: Connection, stmt: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Execute one statement; the rows it returns (RETURNING) as dicts of processed values."""
    if is_raw_sqlite(conn):
        p = prepared(stmt, conn)
        cursor = conn.connection.driver_connection.execute(p.sql, p.values(params))
        return p.rows(cursor.fetchall()) if p.keys else []
    result = conn.execute(stmt, dict(params))
    return [dict(row._mapping) for row in result] if result.returns_rows else []


def run_many(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute one result-less statement for many parameter sets."""
    if is_raw_sqlite(conn):
        p = prepared(stmt, conn)
        conn.connection.driver_connection.executemany(p.sql, [p.values(r) for r in rows])
        return
    conn.execute(stmt, [dict(r) for r in rows])
