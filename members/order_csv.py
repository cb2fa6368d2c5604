"""Reading platform order exports: decoding, column mapping and parsing each row's values.

A typical Chinese platform export (淘宝/天猫/1688/抖店 …) has headers such as 订单编号,
买家会员名 or 旺旺名, 实付款 or 买家实际支付金额 or 实收金额, 订单创建时间 or 下单时间, 订单状态,
联系手机; other headers are mapped with ``[orders] columns`` or a mapping ``field=header``
(the CLI's ``--mapping``, the API's ``mapping`` query or form field). Error messages name
the mapping, not how a particular caller passes it. Files may be UTF-8, UTF-8 with BOM, or GBK (read as
GB18030, its superset). Rows are streamed one at a time and parsed in a tight loop (a
million rows are read in seconds): no dict per row, no Decimal for ordinary amounts, the
time zone's offset looked up once per hour.

This module touches no database; ``members/order_import.py`` writes what it yields.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from operator import itemgetter
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bot.config import OrdersConfig

ORDER_FIELDS = ("order_no", "account", "phone", "amount", "created_at", "status")
# Optional: the shipment of the order, and one line item per row (a row per line of an
# order, the order's own columns repeated or left empty on its further rows).
LINE_FIELDS = ("waybill_no", "carrier", "title", "sku", "quantity", "unit_price", "refund")
FIELDS = ORDER_FIELDS + LINE_FIELDS

# Header names seen in real exports, per field; the first header present in the file wins.
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "order_no": ("订单编号", "订单号", "主订单编号", "订单ID", "订单id", "order_no"),
    "account": (
        "买家会员名",
        "买家账号",
        "买家帐号",
        "旺旺名",
        "买家旺旺",
        "买家旺旺名",
        "旺旺",
        "买家昵称",
        "买家用户名",
        "买家会员",
        "account",
    ),
    "phone": (
        "手机号",
        "买家手机号",
        "联系手机",
        "收货人手机号",
        "收货人手机",
        "收件人手机号",
        "收件人手机",
        "手机",
        "phone",
    ),
    "amount": (
        "实付款",
        "实付款(元)",
        "实付金额",
        "实付金额(元)",
        "买家实际支付金额",
        "买家实付金额",
        "实收金额",
        "实收款",
        "实收款(元)",
        "订单实付金额",
        "amount",
    ),
    "created_at": (
        "订单创建时间",
        "下单时间",
        "创建时间",
        "订单提交时间",
        "订单时间",
        "created_at",
    ),
    "status": ("订单状态", "交易状态", "status"),
    "waybill_no": ("物流单号", "运单号", "快递单号", "运单号码", "waybill_no"),
    "carrier": ("物流公司", "快递公司", "物流公司名称", "carrier"),
    "title": ("货品标题", "宝贝标题", "商品标题", "商品名称", "货品名称", "宝贝名称", "title"),
    "sku": ("规格", "SKU", "sku", "商品规格", "宝贝规格", "销售属性", "货品规格", "商家编码"),
    "quantity": ("数量", "购买数量", "宝贝数量", "货品数量", "商品数量", "quantity"),
    "unit_price": ("单价", "单价(元)", "货品单价", "宝贝单价", "商品单价", "价格", "unit_price"),
    "refund": ("退款金额", "退款金额(元)", "退款", "refund"),
}


def _header_key(header: str) -> str:
    """A header as compared with the names above: trimmed, full-width brackets made ASCII."""
    return header.strip().lstrip("\ufeff").replace("（", "(").replace("）", ")")


class OrderFileError(Exception):
    """The whole file cannot be imported (no header, a required column missing, bad encoding)."""


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
    position: dict[str, int] = {}
    for i, h in enumerate(cleaned):
        if h:
            position.setdefault(h, i)
            position.setdefault(_header_key(h), i)
    columns: dict[str, int] = {}
    for fld, header_name in (mapping or {}).items():
        if fld not in FIELDS:
            raise OrderFileError(f"mapping: {fld!r} is not an order field ({', '.join(FIELDS)})")
        found = position.get(header_name.strip(), position.get(_header_key(header_name)))
        if found is None:
            raise OrderFileError(f"mapping: column {header_name!r} (for {fld}) is not in the file")
        columns[fld] = found
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
            "give a mapping field=header for each (fields: " + ", ".join(FIELDS) + ")"
        )
    return columns


# --- values ------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$"
)
_CENT = Decimal("0.01")
MAX_AMOUNT_YUAN = 10**10  # one order above ¥10 billion is a typing mistake (and overflows sums)


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
    """ "¥1,280.00" → 128000 cents; raises ValueError with the reason."""
    v = value.strip()
    if v[:1] in ("¥", "￥"):
        v = v[1:]
    v = v.replace(",", "")
    whole, _, frac = v.partition(".")
    if whole.isascii() and whole.isdigit() and len(frac) <= 2 and (not frac or frac.isdigit()):
        return _bounded(int(whole) * 100 + int(frac.ljust(2, "0")), value)  # without Decimal
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
    if amount > MAX_AMOUNT_YUAN:
        raise ValueError(f"paid amount {value!r} is too large")
    return int((amount / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bounded(cents: int, value: str) -> int:
    if cents > MAX_AMOUNT_YUAN * 100:
        raise ValueError(f"paid amount {value!r} is too large")
    return cents


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
        self._last: tuple | None = None  # the order of the previous row

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
        ordered_at as naive UTC, status, counted); raises ValueError saying what is wrong.

        A further line of the order just parsed may leave the order's own columns empty:
        it then stands for the same order.
        """
        order_no, account, phone, amount, created_at, status = values[:6]
        order_no = clean_cell(order_no)
        if not order_no:
            raise ValueError("order number is empty")
        if len(order_no) > 64:
            raise ValueError("order number is longer than 64 characters")
        last = self._last
        if last is not None and last[0] == order_no and not (account or phone or amount):
            return last
        self._last = self._parse_order(order_no, account, phone, amount, created_at, status)
        return self._last

    def _parse_order(self, order_no, account, phone, amount, created_at, status) -> tuple:
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

    def parse_line(self, values: Sequence[str | None]) -> tuple:
        """A row's shipment and line item → (waybill_no, carrier, line), the line being
        (title, sku, quantity, unit_price_cents, refund_cents) or None when the row has no
        line columns; raises ValueError saying what is wrong."""
        extra = values[len(ORDER_FIELDS) :]
        if not any(extra):
            return None, None, None  # a file (or JSON rows) without these columns
        waybill, carrier, title, sku, quantity, price, refund = extra
        waybill = clean_cell(waybill)[:64] or None
        carrier = (carrier.strip()[:32] or None) if carrier else None
        title = (title.strip()[:200] or None) if title else None
        sku = (clean_cell(sku)[:128] or None) if sku else None
        if title is None and sku is None:
            if quantity or price or refund:
                raise ValueError("a line with a quantity or price has neither title nor SKU")
            return waybill, carrier, None
        return (
            waybill,
            carrier,
            (
                title,
                sku,
                parse_quantity(quantity) if quantity else 1,
                _line_amount(price, "unit price") if price else None,
                _line_amount(refund, "refund") if refund else 0,
            ),
        )


def parse_quantity(value: str) -> int:
    """ "3", "3.0" → 3; raises ValueError unless a whole number from 0 to a million."""
    v = value.strip()
    try:
        number = Decimal(v)
    except InvalidOperation:
        raise ValueError(f"quantity {value!r} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or not 0 <= number <= 10**6:
        raise ValueError(f"quantity {value!r} is not a whole number")
    return int(number)


def _line_amount(value: str, what: str) -> int:
    """A line's price or refund in cents; the reason names the column, not the paid amount."""
    try:
        return parse_amount(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an amount") from None


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
            f"cannot decode the header as {exc.encoding}: {exc.reason} "
            "(give the file's encoding: utf-8 or gbk)"
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
                row.extend(padding[len(row) :])
            row.append("")
            yield reader.line_num, pick(row)
    except UnicodeDecodeError as exc:
        raise OrderFileError(
            f"cannot decode the file as {exc.encoding} after line {reader.line_num}: "
            f"{exc.reason} (give the file's encoding: utf-8 or gbk)"
        ) from None
    except csv.Error as exc:
        raise OrderFileError(f"line {reader.line_num}: {exc}") from None
