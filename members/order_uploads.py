"""Uploaded order exports before they are imported: kept, inspected and dry-run.

The console's import wizard uploads a file once (``store_upload``); it is kept in a
temporary folder under a random upload id (bounded size, removed an hour later), so the
mapping step and the dry run read it again without another upload. ``inspect_upload``
reports what was read (encoding, headers, row count), which header each field would use
(recognised names, or the operator's mapping) and ten parsed rows. ``dry_run`` reads the
whole file and compares it with the stored orders: new, updated, unchanged, bad (by line)
and matched/unmatched, without writing anything.

This module writes no orders (``members/import_jobs.py`` runs the import itself).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import OrdersConfig
from members.order_csv import (
    DEFAULT_HEADERS,
    FIELDS,
    OrderFileError,
    RowParser,
    _header_key,
    detect_encoding,
    open_csv_text,
    read_csv_rows,
)
from members.orders import Order, buyer_keys

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
UPLOAD_TTL_S = 3600
SAMPLE_ROWS = 10
MAX_BAD_SHOWN = 1000
LOOKUP_CHUNK = 500
ENCODING_LABELS = {"utf-8-sig": "UTF-8 BOM", "utf-8": "UTF-8", "gb18030": "GBK"}
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


_REASONS = [
    (re.compile(r"^order number is empty$"), "订单编号为空"),
    (re.compile(r"^order number is longer than 64 characters$"), "订单编号超过 64 个字符"),
    (re.compile(r"^neither a buyer account name nor a usable phone number$"),
     "没有买家账号，也没有可用的手机号"),
    (re.compile(r"^paid amount is empty$"), "实付金额为空"),
    (re.compile(r"^paid amount (.*) is not a number$"), "实付金额 {} 不是数字"),
    (re.compile(r"^paid amount (.*) is negative or not a number$"), "实付金额 {} 为负数或不是数字"),
    (re.compile(r"^paid amount (.*) is too large$"), "实付金额 {} 过大"),
    (re.compile(r"^created time is empty$"), "下单时间为空"),
    (re.compile(r"^created time (.*) is not a date and time$"), "下单时间 {} 不是日期时间"),
    (re.compile(r"^created time (.*) is not a valid date$"), "下单时间 {} 不是有效日期"),
    (re.compile(r"^quantity (.*) is not a whole number$"), "数量 {} 不是整数"),
    (re.compile(r"^unit price (.*) is not an amount$"), "单价 {} 不是金额"),
    (re.compile(r"^refund (.*) is not an amount$"), "退款金额 {} 不是金额"),
    (re.compile(r"^a line with a quantity or price has neither title nor SKU$"),
     "有数量或单价，但没有商品标题或规格"),
]  # fmt: skip


def reason_zh(reason: str) -> str:
    """A row parser's reason as staff read it (Chinese); unknown reasons pass unchanged."""
    for pattern, text in _REASONS:
        m = pattern.match(reason)
        if m:
            return text.format(*m.groups())
    return reason


class UploadError(ValueError):
    """An upload that cannot be used; the message is shown to the operator (Chinese)."""


def upload_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "laoke-order-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Upload:
    upload_id: str
    filename: str
    size: int
    path: Path


def clean_uploads(folder: Path, *, now: float | None = None) -> int:
    """Remove uploads older than an hour; returns how many files went."""
    limit = (now if now is not None else time.time()) - UPLOAD_TTL_S
    removed = 0
    for path in folder.glob("*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


async def store_upload(
    folder: Path, filename: str, chunks: AsyncIterator[bytes], *, limit: int = MAX_UPLOAD_BYTES
) -> Upload:
    """Write an uploaded file under a new upload id; refuses empty and oversized files."""
    await asyncio.to_thread(clean_uploads, folder)
    upload_id = secrets.token_hex(16)
    path = folder / f"{upload_id}.csv"
    size = 0
    with path.open("wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise UploadError(f"文件超过 {limit // (1024 * 1024)} MB，请拆分后再上传")
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise UploadError("文件是空的，请选择平台导出的订单 CSV")
    name = (Path(filename or "orders.csv").name or "orders.csv")[:255]
    meta = {"filename": name, "size": size}
    (folder / f"{upload_id}.json").write_text(json.dumps(meta, ensure_ascii=False))
    return Upload(upload_id, name, size, path)


def find_upload(folder: Path, upload_id: str) -> Upload:
    """The upload with this id, or UploadError (unknown, malformed or expired)."""
    if not _UPLOAD_ID.match(upload_id or ""):
        raise UploadError("找不到这次上传的文件，请重新上传")
    path, meta_path = folder / f"{upload_id}.csv", folder / f"{upload_id}.json"
    try:
        meta = json.loads(meta_path.read_text())
        size = path.stat().st_size
    except (FileNotFoundError, ValueError):
        raise UploadError("上传的文件已过期（保留一小时），请重新上传") from None
    return Upload(upload_id, str(meta.get("filename", "orders.csv")), size, path)


def auto_mapping(headers: list[str]) -> dict[str, str]:
    """Field → header for the headers recognised by name (the first known name wins)."""
    present = {}
    for h in headers:
        present.setdefault(_header_key(h), h.strip().lstrip("\ufeff"))
    found = {}
    for fld, names in DEFAULT_HEADERS.items():
        for name in names:
            if _header_key(name) in present:
                found[fld] = present[_header_key(name)]
                break
    return found


def clean_mapping(raw: Mapping[str, str], headers: list[str]) -> dict[str, str]:
    """Keep only known fields mapped to headers in the file (an empty choice drops it)."""
    known = {h.strip().lstrip("\ufeff") for h in headers}
    return {f: v for f, v in raw.items() if f in FIELDS and v and v in known}


def missing_fields(mapping: Mapping[str, str]) -> list[str]:
    missing = [f for f in ("order_no", "amount", "created_at") if f not in mapping]
    if "account" not in mapping and "phone" not in mapping:
        missing.append("account")
    return missing


@dataclass
class SampleRow:
    line: int
    values: tuple | None  # (order_no, account, phone, cents, ordered_at UTC, status, counted)
    error: str | None


@dataclass
class Inspection:
    encoding: str  # the codec name read_csv_rows uses
    headers: list[str]
    rows: int
    detected: dict[str, str]  # recognised by name
    mapping: dict[str, str]  # in effect (detected, overridden by the operator's)
    missing: list[str]
    samples: list[SampleRow] = field(default_factory=list)

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)


def _inspect(path: Path, config: OrdersConfig, chosen: Mapping[str, str] | None) -> Inspection:
    with path.open("rb") as raw:
        encoding = detect_encoding(raw.read(65536))
        raw.seek(0)
        text = open_csv_text(raw, encoding)
        try:
            reader = csv.reader(text)
            try:
                headers = [h.strip().lstrip("\ufeff") for h in next(reader)]
            except StopIteration:
                raise UploadError("文件没有表头行（是空的）") from None
            except (UnicodeDecodeError, csv.Error):
                raise UploadError("无法读取表头：文件不是 CSV，或编码不是 UTF-8 / GBK") from None
            if len(headers) < 3 or not any(headers):
                raise UploadError("没有读到表头：请上传平台导出的订单 CSV（第一行是列名）")
            detected = auto_mapping(headers)
            mapping = {**detected, **clean_mapping(chosen or {}, headers)}
            for fld, value in (chosen or {}).items():
                if fld in FIELDS and value == "":
                    mapping.pop(fld, None)  # the operator chose 不导入 for this field
            missing = missing_fields(mapping)
            rows = 0
            samples: list[SampleRow] = []
            parser = RowParser(config)
            cols = {f: headers.index(h) for f, h in mapping.items()}
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                if len(samples) < SAMPLE_ROWS and not missing:
                    cells = row + [""] * (len(headers) + 1 - len(row))
                    raw_values = [cells[cols[f]] if f in cols else "" for f in FIELDS]
                    try:
                        samples.append(SampleRow(reader.line_num, parser.parse(raw_values), None))
                    except ValueError as exc:
                        samples.append(SampleRow(reader.line_num, None, reason_zh(str(exc))))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UploadError(f"第 {reader.line_num} 行读不出来：{exc}") from None
        finally:
            text.detach()
    return Inspection(encoding, headers, rows, detected, mapping, missing, samples)


async def inspect_upload(
    upload: Upload, config: OrdersConfig, chosen: Mapping[str, str] | None = None
) -> Inspection:
    """What the file holds and how it would be read with the mapping in effect."""
    return await asyncio.to_thread(_inspect, upload.path, config, chosen)


@dataclass
class Preview:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    matched: int = 0
    unmatched: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    updated_lines: list[int] = field(default_factory=list)  # the first few, to show


def _read_all(path: Path, encoding: str, mapping: Mapping[str, str], config: OrdersConfig):
    parser = RowParser(config)
    good, bad = [], []
    with path.open("rb") as raw:
        text = open_csv_text(raw, encoding)
        try:
            for line, values in read_csv_rows(text, mapping):
                try:
                    order = parser.parse(values)
                    parser.parse_line(values)  # a bad line item makes the row bad
                    good.append((line, order))
                except ValueError as exc:
                    bad.append((line, reason_zh(str(exc))))
        finally:
            text.detach()
    return good, bad


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


async def dry_run(
    session: AsyncSession, upload: Upload, encoding: str, mapping: Mapping[str, str],
    config: OrdersConfig,
) -> Preview:  # fmt: skip
    """Read the whole file and compare it with the stored orders; writes nothing.

    Raises UploadError when the file cannot be read to its end (nothing would be imported).
    """
    try:
        good, bad = await asyncio.to_thread(_read_all, upload.path, encoding, mapping, config)
    except OrderFileError as exc:
        raise UploadError(f"文件无法导入：{exc}") from None
    preview = Preview(rows=len(good) + len(bad), bad=len(bad), bad_rows=bad[:MAX_BAD_SHOWN])
    by_account, by_phone = await buyer_keys(session)
    latest: dict[str, tuple] = {}
    for _line, row in good:  # a later row for the same order number wins, as in the import
        latest[row[0]] = row
    stored: dict[str, tuple] = {}
    numbers = list(latest)
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = numbers[start : start + LOOKUP_CHUNK]
        q = select(
            Order.order_no, Order.account, Order.phone, Order.amount_cents, Order.ordered_at,
            Order.status, Order.buyer_id,
        ).where(Order.order_no.in_(chunk))  # fmt: skip
        for r in await session.execute(q):
            stored[r.order_no] = (r.account, r.phone, r.amount_cents, _naive_utc(r.ordered_at),
                                  r.status, r.buyer_id)  # fmt: skip
    counted_orders: set[str] = set()
    for line, (no, account, phone, cents, when, status, _counted) in good:
        if no in counted_orders:
            continue  # a further line of an order already counted
        counted_orders.add(no)
        buyer = (by_account.get(account) if account else None) or (
            by_phone.get(phone) if phone else None
        )
        old = stored.get(no)
        if buyer is None and old is not None and old[5] is not None:
            buyer = old[5]
        if buyer is None:
            preview.unmatched += 1
        else:
            preview.matched += 1
        if old is None:
            preview.new += 1
        elif old[:5] == (account, phone, cents, when, status):
            preview.unchanged += 1
        else:
            preview.updated += 1
            if len(preview.updated_lines) < 20:
                preview.updated_lines.append(line)
    return preview


def bad_rows_csv(bad_rows: list[tuple[int, str]]) -> bytes:
    """The bad lines as CSV for Excel/WPS (UTF-8 with BOM): 行号, 原因."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "原因"])
    for line, reason in bad_rows:
        # A reason never starts a formula in Excel/WPS, whatever the file's cells held.
        writer.writerow([line, "'" + reason if reason[:1] in ("=", "+", "-", "@") else reason])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
