"""Importing platform order exports: CSV decoding, column mapping, row parsing, bulk upsert.

A typical Chinese platform export (淘宝/天猫/1688/抖店 …) has headers such as 订单编号,
买家会员名, 实付款, 订单创建时间, 订单状态, 手机号; other headers are mapped with ``[orders]
columns`` or ``--mapping field=header``. Files may be UTF-8, UTF-8 with BOM, or GBK (read as
GB18030, its superset). The file is streamed: rows are parsed one at a time and written in
batches with one ``INSERT … ON CONFLICT (order_no) DO UPDATE`` executemany per batch, so a
million rows take seconds and constant memory.

Idempotent by order number: a row identical to the stored order changes nothing (the
conflict update has a WHERE clause); a changed status, amount or buyer updates it. Bad rows
are reported by line number and reason and the good rows are imported. Deciding tiers is
not done here; the caller recomputes after the import (``bot/tiers.py``).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from operator import itemgetter
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import OrdersConfig
from bot.orders import Order, buyer_keys

FIELDS = ("order_no", "account", "phone", "amount", "created_at", "status")

# Header names seen in real exports, per field; the first header present in the file wins.
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "order_no": ("订单编号", "订单号", "主订单编号", "订单ID", "订单id", "order_no"),
    "account": (
        "买家会员名", "买家账号", "买家帐号", "买家昵称", "买家用户名", "买家会员", "account",
    ),
    "phone": ("手机号", "买家手机号", "联系手机", "收货人手机号", "收货人手机", "手机", "phone"),
    "amount": ("实付款", "实付金额", "买家实际支付金额", "买家实付金额", "实收款", "amount"),
    "created_at": ("订单创建时间", "下单时间", "创建时间", "订单时间", "created_at"),
    "status": ("订单状态", "交易状态", "status"),
}

BATCH_ROWS = 50_000
MAX_REPORTED_BAD_ROWS = 1_000


class OrderFileError(Exception):
    """The whole file cannot be imported (no header, a required column missing, bad encoding)."""


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
    matched: int = 0  # rows of this import that belong to a known buyer
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
            "bad_count": self.bad_count,
            "bad_rows": [{"line": b.line, "reason": b.reason} for b in self.bad_rows],
        }


# --- decoding and columns ----------------------------------------------------------------


def detect_encoding(head: bytes) -> str:
    """UTF-8 with or without BOM, else GB18030 (a superset of GBK that never fails on GBK)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # final=False: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def open_csv_text(raw: BinaryIO, encoding: str | None = None) -> io.TextIOWrapper:
    """Wrap a binary stream as text in the file's encoding (detected from the first 64 KiB)."""
    buffered = io.BufferedReader(raw, buffer_size=65536)  # type: ignore[arg-type]
    enc = encoding or detect_encoding(buffered.peek(65536)[:65536])
    if enc.lower().replace("_", "-") in ("gbk", "gb2312"):
        enc = "gb18030"
    return io.TextIOWrapper(buffered, encoding=enc, newline="")


def resolve_columns(header: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, int]:
    """Map each field to its column index; the explicit `mapping` (field → header) wins."""
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    position = {h: i for i, h in enumerate(cleaned) if h}
    columns: dict[str, int] = {}
    for fld, header_name in (mapping or {}).items():
        if fld not in FIELDS:
            raise OrderFileError(f"mapping: {fld!r} is not an order field ({', '.join(FIELDS)})")
        if header_name not in position:
            raise OrderFileError(f"mapping: column {header_name!r} (for {fld}) is not in the file")
        columns[fld] = position[header_name]
    for fld, names in DEFAULT_HEADERS.items():
        if fld not in columns:
            found = next((position[n] for n in names if n in position), None)
            if found is not None:
                columns[fld] = found
    missing = [f for f in ("order_no", "amount", "created_at") if f not in columns]
    if "account" not in columns and "phone" not in columns:
        missing.append("account or phone")
    if missing:
        raise OrderFileError(
            f"missing column(s): {', '.join(missing)}; the header has {', '.join(cleaned)}; "
            "map yours with --mapping field=header (fields: " + ", ".join(FIELDS) + ")"
        )
    return columns


# --- values ------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$"
)
_CENT = Decimal("0.01")


def clean_cell(value: str | None) -> str:
    """Strip the guards spreadsheets put around long numbers (="…", a leading ')."""
    if not value:
        return ""
    v = value.strip()
    if v[:1] in ("=", "'"):
        if v.startswith('="') and v.endswith('"'):
            v = v[2:-1]
        v = v.lstrip("'").strip()
    return v


def parse_amount(value: str) -> int:
    """"¥1,280.00" → 128000 cents; raises ValueError with the reason."""
    v = value.strip()
    if v[:1] in ("¥", "￥"):
        v = v[1:]
    v = v.replace(",", "")
    whole, _, frac = v.partition(".")
    if whole.isdigit() and len(frac) <= 2 and (not frac or frac.isdigit()):
        return int(whole) * 100 + int(frac.ljust(2, "0"))  # the common case, without Decimal
    v = v.replace("¥", "").replace("￥", "").replace("元", "").replace("RMB", "").replace("CNY", "")
    v = v.strip()
    if not v:
        raise ValueError("paid amount is empty")
    try:
        amount = Decimal(v)
    except InvalidOperation:
        raise ValueError(f"paid amount {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"paid amount {value!r} is negative or not a number")
    return int((amount / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_local_time(value: str) -> datetime:
    """An export time ("2026-05-18 12:30:00", "2026/5/18 12:30", "2026年5月18日"), as written."""
    v = value.strip()
    try:
        return datetime.fromisoformat(v.replace("/", "-"))
    except ValueError:
        m = _DATE_RE.match(v)
        if not m:
            raise ValueError(f"created time {value!r} is not a date and time") from None
        try:
            return datetime(*(int(g) for g in m.groups() if g is not None))
        except ValueError:
            raise ValueError(f"created time {value!r} is not a valid date") from None


def parse_time(value: str, tz: tzinfo) -> datetime:
    """An export time in local time (zone `tz` unless it names its own) → aware UTC."""
    moment = parse_local_time(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def normalize_phone(value: str) -> str | None:
    """An 11-digit mainland mobile number, or None (masked "138****1234" cannot match)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if "*" in value or not digits:
        return None
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) == 11 and digits.startswith("1") else None


class RowParser:
    """Turns one row's raw field values into the stored values, or a reason it is bad."""

    def __init__(self, config: OrdersConfig) -> None:
        self.tz = ZoneInfo(config.timezone)
        self.not_counted = tuple(word.lower() for word in config.not_counted)
        self._counts: dict[str, bool] = {}  # an export has a handful of distinct statuses
        self._offsets: dict[tuple[int, int, int, int], timedelta] = {}  # per local hour

    def utc(self, moment: datetime) -> datetime:
        """Naive UTC from a local export time (the zone's offset looked up once per hour)."""
        if moment.tzinfo is not None:
            return moment.astimezone(UTC).replace(tzinfo=None)
        key = (moment.year, moment.month, moment.day, moment.hour)
        offset = self._offsets.get(key)
        if offset is None:
            offset = self._offsets[key] = moment.replace(tzinfo=self.tz).utcoffset()
        return moment - offset

    def counts(self, status: str) -> bool:
        known = self._counts.get(status)
        if known is None:
            lowered = status.lower()
            known = self._counts[status] = not any(w in lowered for w in self.not_counted)
        return known

    def parse(self, values: Sequence[str | None]) -> tuple:
        """One row's raw values in FIELDS order → (order_no, account, phone, amount_cents,
        ordered_at as naive UTC, status, counted); raises ValueError saying what is wrong."""
        order_no, account, phone, amount, created_at, status = values
        order_no = clean_cell(order_no)
        if not order_no:
            raise ValueError("order number is empty")
        if len(order_no) > 64:
            raise ValueError("order number is longer than 64 characters")
        account = (account.strip()[:128] or None) if account else None
        phone = normalize_phone(phone) if phone else None
        if account is None and phone is None:
            raise ValueError("neither a buyer account name nor a usable phone number")
        status = status.strip()[:32] if status else ""
        if not amount:
            raise ValueError("paid amount is empty")
        if not created_at:
            raise ValueError("created time is empty")
        return (
            order_no,
            account,
            phone,
            parse_amount(amount),
            self.utc(parse_local_time(created_at)),
            status,
            self.counts(status),
        )


# --- reading -----------------------------------------------------------------------------


def read_csv_rows(
    text: Iterable[str], mapping: Mapping[str, str] | None = None
) -> Iterator[tuple[int, Sequence[str]]]:
    """Yield (line number, raw values in FIELDS order) per data row; the header is line 1."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise OrderFileError("the file is empty (no header row)") from None
    except UnicodeDecodeError as exc:
        raise OrderFileError(
            f"cannot decode the header as {exc.encoding}: {exc.reason} (pass the right --encoding)"
        ) from None
    columns = resolve_columns(header, mapping)
    width = max(columns.values()) + 1
    # An absent optional column reads the empty cell appended to every row (index -1).
    pick = itemgetter(*(columns.get(f, -1) for f in FIELDS))
    padding = [""] * width
    try:
        for row in reader:
            if not row or not row[0].strip():
                if not any(cell.strip() for cell in row):
                    continue  # a blank line, or a row of empty cells
            if len(row) < width:
                row.extend(padding[len(row):])
            row.append("")
            yield reader.line_num, pick(row)
    except UnicodeDecodeError as exc:
        raise OrderFileError(
            f"cannot decode the file as {exc.encoding} after line {reader.line_num}: "
            f"{exc.reason} (pass the right --encoding)"
        ) from None
    except csv.Error as exc:
        raise OrderFileError(f"line {reader.line_num}: {exc}") from None


# --- writing -----------------------------------------------------------------------------


_COLUMNS = ("order_no", "account", "phone", "amount_cents", "ordered_at", "status", "counted",
            "buyer_id", "first_import", "last_import", "updated_at")


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
            # A changed account or phone is matched again from scratch.
            "buyer_id": case((rekeyed, new.buyer_id), else_=func.coalesce(old.buyer_id, new.buyer_id)),
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
        ),
    )
    compiled = stmt.compile(dialect=dialect)
    # Rows are built in _COLUMNS order; the compiled statement must take them that way.
    assert tuple(compiled.positiontup or ()) == _COLUMNS, compiled.positiontup
    return str(compiled)


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
) -> ImportResult:
    """Upsert parsed rows in batches (one transaction each), linked to the buyers we know.

    Buyers are looked up in memory (account name and phone → buyer id, loaded once), so
    rows arrive linked and no per-row UPDATE follows; orders of buyers not known yet are
    linked later by ``bot.orders.match_orders_for_buyer`` or the recompute.
    """
    result = ImportResult(import_id=uuid.uuid4().hex[:16])
    parser = RowParser(config)
    batch: list[tuple] = []
    async with sessionmaker() as session:
        by_account, by_phone = await buyer_keys(session)
        conn = await session.connection()
        if conn.dialect.name == "sqlite":
            # Index pages of a big table stay in memory during the import (64 MiB), and the
            # WAL is copied back (with an fsync) every 64 MiB instead of every 4 MiB.
            await conn.exec_driver_sql("PRAGMA cache_size=-65536")
            await conn.exec_driver_sql("PRAGMA wal_autocheckpoint=16384")
        sql = _upsert_sql(conn.dialect)
        as_driver_time = _to_driver(conn.dialect.name)
        stamp = (result.import_id, result.import_id,
                 as_driver_time(now.astimezone(UTC).replace(tzinfo=None)))
        writing: asyncio.Task | None = None

        async def write(params: list[tuple]) -> None:
            await (await session.connection()).exec_driver_sql(sql, params)
            await session.commit()

        async def flush() -> None:
            # The driver writes one batch (in its own thread) while the next one is parsed.
            nonlocal writing, batch
            if writing is not None:
                await writing
            writing = asyncio.create_task(write(batch)) if batch else None
            batch = []
            await asyncio.sleep(0)  # let the write reach the driver before parsing on

        try:
            for line, raw in rows:
                try:
                    no, account, phone, cents, when, status, counted = parser.parse(raw)
                except ValueError as exc:
                    result.bad_count += 1
                    if len(result.bad_rows) < MAX_REPORTED_BAD_ROWS:
                        result.bad_rows.append(BadRow(line, str(exc)))
                    continue
                buyer_id = by_account.get(account) if account else None
                if buyer_id is None and phone:
                    buyer_id = by_phone.get(phone)
                if buyer_id is not None:
                    result.matched += 1
                batch.append((no, account, phone, cents, as_driver_time(when), status, counted,
                              buyer_id, *stamp))
                result.rows += 1
                if len(batch) >= batch_rows:
                    await flush()
            await flush()
            await flush()  # wait for the last write
        finally:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # never leave a write running on a closing session
        # One scan: rows this import touched, and of those the ones it created.
        touched, created = (await session.execute(
            select(func.count(), func.sum(case((Order.first_import == result.import_id, 1), else_=0)))
            .where(Order.last_import == result.import_id)
        )).one()
        result.inserted = int(created or 0)
        result.updated = int(touched or 0) - result.inserted
        result.unchanged = max(result.rows - result.inserted - result.updated, 0)
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
) -> ImportResult:
    """Import a CSV export from a binary stream (a file or an upload)."""
    columns = {**config.columns, **(mapping or {})}
    text = open_csv_text(raw, encoding)
    return await import_orders(sessionmaker, read_csv_rows(text, columns), config, now)
