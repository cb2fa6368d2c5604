"""Importing orders: the bulk upsert of parsed rows, idempotent by order number.

Rows come from ``members/order_csv.py`` (a CSV export) or the API's JSON rows and are written
in batches with one ``INSERT … ON CONFLICT (order_no) DO UPDATE … WHERE changed`` executemany
per batch, so a million rows take well under a minute on SQLite. A row identical to the
stored order changes nothing; a changed status, amount, time or buyer updates it. An export
with line columns has one row per line: the rows of one order number write the order once
and its lines (``members/order_lines.py``), which replace the lines stored for it. Bad rows
are reported by line number and reason and the good rows are imported. Deciding tiers is
not done here; the caller recomputes after the import (``members/tiers.py``).

A file is all or nothing: it is read through once (decoding every byte, splitting every
row) before the first row is written, so a file that cannot be read to its end (a wrong
encoding at line 600,000, a broken row) stores nothing. An import may run inside ``serve``:
reading and parsing happen in a worker thread, a few thousand rows at a time, and batches
are committed separately, so the event loop (and the webhook) never waits long.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from sqlalchemy import and_, bindparam, case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import OrdersConfig
from bot.count_cache import invalidate_from
from members.order_csv import RowParser, detect_encoding, open_csv_text, read_csv_rows
from members.order_lines import OrderLine
from members.orders import Order, buyer_keys

# Rows per transaction: small enough that a webhook's own write never waits long for the
# import's (SQLite has one writer), large enough to keep the per-commit cost small.
BATCH_ROWS = 10_000
PARSE_ROWS = 2_000  # rows parsed in the worker thread per hand-over to the event loop
MAX_REPORTED_BAD_ROWS = 1_000


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class ImportResult:
    import_id: str
    rows: int = 0  # good rows read
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0  # orders of this import that belong to a known buyer
    lines: int = 0  # line items read (exports with line columns)
    bad_count: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_REPORTED_BAD_ROWS

    def as_dict(self) -> dict:
        return {
            "import_id": self.import_id,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "matched": self.matched,
            "lines": self.lines,
            "bad_count": self.bad_count,
            "bad_rows": [{"line": b.line, "reason": b.reason} for b in self.bad_rows],
        }


# --- writing -----------------------------------------------------------------------------


@dataclass
class _Batch:
    """Rows parsed for one write: order upserts, orders whose lines start anew, lines."""

    orders: list[tuple] = field(default_factory=list)
    clears: list[tuple] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
    rows: int = 0  # good rows read

    @property
    def size(self) -> int:
        return len(self.orders) + len(self.lines)

    def extend(self, other: _Batch) -> None:
        self.orders += other.orders
        self.clears += other.clears
        self.lines += other.lines
        self.rows += other.rows


_COLUMNS = (
    "order_no",
    "account",
    "phone",
    "amount_cents",
    "ordered_at",
    "status",
    "counted",
    "buyer_id",
    "waybill_no",
    "carrier",
    "first_import",
    "last_import",
    "updated_at",
)


def _upsert_sql(dialect) -> str:
    """The batch upsert, compiled once to SQL text taking positional parameters.

    Rows go to the driver as plain tuples (``exec_driver_sql``), skipping SQLAlchemy's
    per-value type processing, which otherwise costs more than SQLite's own work.
    """
    table = Order.__table__
    ins = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)
    new, old = ins.excluded, table.c
    rekeyed = or_(old.account.is_distinct_from(new.account), old.phone.is_distinct_from(new.phone))
    stmt = ins.values({c: bindparam(c) for c in _COLUMNS}).on_conflict_do_update(
        index_elements=[old.order_no],
        set_={
            "status": new.status,
            "counted": new.counted,
            "amount_cents": new.amount_cents,
            "ordered_at": new.ordered_at,
            "account": new.account,
            "phone": new.phone,
            # An export without the shipment columns leaves the known shipment alone.
            "waybill_no": func.coalesce(new.waybill_no, old.waybill_no),
            "carrier": func.coalesce(new.carrier, old.carrier),
            # A changed account or phone is matched again from scratch.
            "buyer_id": case(
                (rekeyed, new.buyer_id), else_=func.coalesce(old.buyer_id, new.buyer_id)
            ),
            "last_import": new.last_import,
            "updated_at": new.updated_at,
        },
        # Identical rows change nothing: re-importing a file is a no-op.
        where=or_(
            old.status != new.status,
            old.amount_cents != new.amount_cents,
            old.ordered_at != new.ordered_at,
            rekeyed,
            and_(old.buyer_id.is_(None), new.buyer_id.is_not(None)),
            and_(new.waybill_no.is_not(None), old.waybill_no.is_distinct_from(new.waybill_no)),
            and_(new.carrier.is_not(None), old.carrier.is_distinct_from(new.carrier)),
        ),
    )
    compiled = stmt.compile(dialect=dialect)
    # Rows are built in _COLUMNS order; the compiled statement must take them that way.
    assert tuple(compiled.positiontup or ()) == _COLUMNS, compiled.positiontup
    return str(compiled)


_LINE_COLUMNS = ("line_no", "title", "sku", "quantity", "unit_price_cents", "refund_cents")


def _line_sql(dialect) -> tuple[str, str]:
    """(clear the lines of an order by number, insert one line of an order by number).

    Lines find their order by its number, so they are written right after the batch's
    orders in the same transaction, without reading the order ids back.
    """
    lines, orders = OrderLine.__table__, Order.__table__
    order_id = select(orders.c.id).where(orders.c.order_no == bindparam("order_no"))
    clear = delete(lines).where(lines.c.order_id == order_id.scalar_subquery())
    ins = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(lines)
    source = select(
        orders.c.id, *(bindparam(c, type_=lines.c[c].type) for c in _LINE_COLUMNS)
    ).where(orders.c.order_no == bindparam("order_no"))
    add = ins.from_select(["order_id", *_LINE_COLUMNS], source).on_conflict_do_update(
        index_elements=[lines.c.order_id, lines.c.line_no],
        set_={c: ins.excluded[c] for c in _LINE_COLUMNS[1:]},
    )
    compiled_clear, compiled_add = clear.compile(dialect=dialect), add.compile(dialect=dialect)
    assert tuple(compiled_add.positiontup or ()) == (*_LINE_COLUMNS, "order_no"), (
        compiled_add.positiontup
    )
    return str(compiled_clear), str(compiled_add)


def _to_driver(dialect_name: str):
    """How a naive UTC datetime is handed to the driver (SQLAlchemy's SQLite text format)."""
    if dialect_name == "sqlite":
        return lambda dt: dt.isoformat(sep=" ", timespec="microseconds")
    return lambda dt: dt


async def import_orders(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Iterable[tuple[int, Sequence[str | None]]],
    config: OrdersConfig,
    now: datetime,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> ImportResult:
    """Upsert parsed rows in batches (one transaction each), linked to the buyers we know.

    Buyers are looked up in memory (account name and phone → buyer id, loaded once), so
    rows arrive linked and no per-row UPDATE follows; orders of buyers not known yet are
    linked later by ``members.tier_refresh.match_orders_for_buyer`` or the recompute.
    """
    result = ImportResult(import_id=uuid.uuid4().hex[:16])
    parser = RowParser(config)
    batch = _Batch()
    orders_read = 0
    async with sessionmaker() as session:
        by_account, by_phone = await buyer_keys(session)
        conn = await session.connection()
        if conn.dialect.name == "sqlite":
            # Index pages of a big table stay in memory during the import (64 MiB), and the
            # WAL is copied back (with an fsync) every 64 MiB instead of every 4 MiB.
            await conn.exec_driver_sql("PRAGMA cache_size=-65536")
            await conn.exec_driver_sql("PRAGMA wal_autocheckpoint=16384")
        sql = _upsert_sql(conn.dialect)
        clear_sql, line_sql = _line_sql(conn.dialect)
        as_driver_time = _to_driver(conn.dialect.name)
        stamp = (
            result.import_id,
            result.import_id,
            as_driver_time(now.astimezone(UTC).replace(tzinfo=None)),
        )
        writing: asyncio.Task | None = None

        async def write(todo: _Batch, done: int) -> None:
            conn = await session.connection()
            if todo.orders:
                await conn.exec_driver_sql(sql, todo.orders)
            if todo.clears:  # an order's lines imported again replace the stored ones
                await conn.exec_driver_sql(clear_sql, todo.clears)
            if todo.lines:
                await conn.exec_driver_sql(line_sql, todo.lines)
            await session.commit()
            if progress is not None:
                await progress(done)  # rows read so far, all of them committed

        async def flush() -> None:
            # The driver writes one batch (in its own thread) while the next one is parsed.
            nonlocal writing, batch
            if writing is not None:
                await writing
            writing = asyncio.create_task(write(batch, result.rows)) if batch.size else None
            batch = _Batch()
            await asyncio.sleep(0)  # let the write reach the driver before parsing on

        source = iter(rows)
        line_counts: dict[str, int] = {}  # lines seen per order number (export with lines)
        previous: list[str | None] = [None]  # the order number of the previous good row

        def parse_some() -> _Batch | None:
            """Up to PARSE_ROWS rows parsed into driver tuples (in a worker thread)."""
            out = _Batch()
            for line, raw in source:
                try:
                    no, account, phone, cents, when, status, counted = parser.parse(raw)
                    waybill, carrier, item = parser.parse_line(raw)
                except ValueError as exc:
                    result.bad_count += 1
                    if len(result.bad_rows) < MAX_REPORTED_BAD_ROWS:
                        result.bad_rows.append(BadRow(line, str(exc)))
                    continue
                out.rows += 1
                if item is not None:
                    line_no = line_counts[no] = line_counts.get(no, 0) + 1
                    if line_no == 1:
                        out.clears.append((no,))
                    out.lines.append((line_no, *item, no))
                if no == previous[0]:
                    continue  # a further line of the order just read
                previous[0] = no
                buyer_id = by_account.get(account) if account else None
                if buyer_id is None and phone:
                    buyer_id = by_phone.get(phone)
                if buyer_id is not None:
                    result.matched += 1
                out.orders.append(
                    (no, account, phone, cents, as_driver_time(when), status, counted)
                    + (buyer_id, waybill, carrier)
                    + stamp
                )
                if out.rows >= PARSE_ROWS:
                    return out
            return out if out.rows else None

        try:
            while (parsed := await asyncio.to_thread(parse_some)) is not None:
                batch.extend(parsed)
                result.rows += parsed.rows
                result.lines += len(parsed.lines)
                orders_read += len(parsed.orders)
                if batch.size >= batch_rows:
                    await flush()
            await flush()
            await flush()  # wait for the last write
        finally:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # never leave a write running on a closing session
        # One scan: rows this import touched, and of those the ones it created.
        touched, created = (
            await session.execute(
                select(
                    func.count(),
                    func.sum(case((Order.first_import == result.import_id, 1), else_=0)),
                ).where(Order.last_import == result.import_id)
            )
        ).one()
        result.inserted = int(created or 0)
        result.updated = int(touched or 0) - result.inserted
        result.unchanged = max(orders_read - result.inserted - result.updated, 0)
        if touched:
            # Counts of the dashboard from the earliest order written on may have changed.
            since = (
                await session.execute(
                    select(func.min(Order.ordered_at)).where(Order.last_import == result.import_id)
                )
            ).scalar_one()
            if since is not None:
                await invalidate_from(session, since)
                await session.commit()
        if conn.dialect.name == "sqlite":
            await (await session.connection()).exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
    return result


async def import_csv(
    sessionmaker: async_sessionmaker[AsyncSession],
    raw: BinaryIO,
    config: OrdersConfig,
    now: datetime,
    *,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> ImportResult:
    """Import a CSV export from a binary stream (a file or an upload): nothing is written
    unless the whole file can be read (OrderFileError says why not)."""
    columns = {**config.columns, **(mapping or {})}
    with tempfile.TemporaryFile() if not raw.seekable() else contextlib.nullcontext() as copy:
        if copy is not None:  # a stream read once: keep it to read it twice
            await asyncio.to_thread(shutil.copyfileobj, raw, copy, 1 << 20)
            raw = copy
        start = raw.tell()
        encoding = encoding or detect_encoding(raw.read(65536))
        raw.seek(start)
        await asyncio.to_thread(_read_through, raw, encoding, columns)
        raw.seek(start)
        with _csv_rows(raw, encoding, columns) as rows:
            return await import_orders(
                sessionmaker, rows, config, now, batch_rows=batch_rows, progress=progress
            )


class _csv_rows:
    """The rows of a CSV stream; leaving detaches the text wrapper so `raw` stays open (its
    owner closes it) and nothing is left for the garbage collector to close."""

    def __init__(self, raw: BinaryIO, encoding: str, columns: Mapping[str, str]) -> None:
        self.text = open_csv_text(raw, encoding)
        self.columns = columns

    def __enter__(self) -> Iterator[tuple[int, Sequence[str]]]:
        return read_csv_rows(self.text, self.columns)

    def __exit__(self, *exc) -> None:
        self.text.detach().detach()


def _read_through(raw: BinaryIO, encoding: str, columns: Mapping[str, str]) -> None:
    """Decode and split the whole file, raising OrderFileError where it cannot be read."""
    with _csv_rows(raw, encoding, columns) as rows:
        for _ in rows:
            pass
