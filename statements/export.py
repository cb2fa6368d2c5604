"""A closed period for the accountant: XLSX (openpyxl; a sheet of statements and one of
their lines) and CSV (the statements, UTF-8 with BOM so Excel opens the Chinese).

Money is exact: XLSX cells hold Decimal yuan formatted with two places, CSV cells the same
digits as text. This module reads nothing itself: the console passes the rows it read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from statements.lines import Line
from statements.views import BuyerRow

HEADER = ["买家编号", "买家", "公司", "单数", "拿货金额", "退款", "往期调整", "净采购", "等级",
          "返点比例", "返点", "发放日期", "发放方式"]  # fmt: skip
LINE_HEADER = ["买家编号", "买家", "类型", "订单号", "下单时间", "金额", "说明"]
KINDS = {"order": "订单", "refund": "退款", "adjustment": "调整"}
MONEY = "#,##0.00"


def _yuan(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _row(r: BuyerRow) -> list:
    v = r.view
    return [
        v.buyer_id, r.name, r.company, v.orders, _yuan(v.order_total), _yuan(v.refund_total),
        _yuan(v.adjustment_total), _yuan(v.net), v.tier_key or "", v.rate, _yuan(v.rebate),
        v.paid_on or "", v.paid_method or "",
    ]  # fmt: skip


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def xlsx(
    label: str, rows: Sequence[BuyerRow], lines: Sequence[tuple[BuyerRow, Line]], tz: str
) -> bytes:
    """The period as a workbook: 对账单 (one row per buyer, a total) and 明细 (every line)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "对账单"
    sheet.append([f"{label} 对账单"])
    sheet.append(HEADER)
    for r in rows:
        sheet.append(_row(r))
    total = [sum((_row(r)[i] for r in rows), Decimal("0.00")) for i in (4, 5, 6, 7)]
    sheet.append(["合计", "", "", sum(r.view.orders for r in rows), *total, "", "",
                  sum((_yuan(r.view.rebate) for r in rows), Decimal("0.00")), "", ""])  # fmt: skip
    for column in "EFGHK":
        for cell in sheet[column][2:]:
            cell.number_format = MONEY
    detail = book.create_sheet("明细")
    detail.append(LINE_HEADER)
    for r, line in lines:
        detail.append([r.view.buyer_id, r.name, KINDS.get(line.kind, line.kind), line.order_no,
                       _local(line.ordered_at, tz), _yuan(line.amount_cents), line.note])  # fmt: skip
    for cell in detail["F"][1:]:
        cell.number_format = MONEY
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(rows: Sequence[BuyerRow]) -> str:
    """The period's statements as CSV (with a BOM: Excel reads it as UTF-8)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow([str(c) for c in _row(r)])
    return out.getvalue()
