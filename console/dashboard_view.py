"""The 总览 page's view of ``insights.dashboard.dashboard``: KPI cards and chart tables.

Every chart is one :class:`Table` (columns, rows of cells, each cell with its exact value, its
display text and, where a figure has buyers behind it, the drill-down link). The page draws
the chart from it (ECharts, in ``static/dashboard.js``), shows it as the 数据表 and exports it
as CSV, so the three can never disagree. Number formats follow CONSOLE.md §4: cards use 万
from 10,000, tables full numbers with comma groups, rates one decimal, ``—`` for no data.

This module formats; it counts nothing and knows no SQL.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from insights.funnel import OPTIONAL_FIELDS
from insights.periods import DateRange, bucket_start, next_start

DASH = "—"
DRILL = "/admin/dashboard/buyers"

KPI_CARDS = (
    # key, label, definition (the ⓘ), drill figure, whether a rate
    ("followers", "累积关注", "期末仍关注公众号的买家数（今天为当前）。", "followers", False),
    ("net", "净增", "本期新关注的买家数减取消关注的买家数（各按买家去重）。期内先取关又回来的"
     "买家两边各算一次，所以它可以不同于累积关注的期末减期初（卡片下方的「累积关注变化」）。",
     "follows", False),
    ("new_customers", "本期新客", "首个计入订单在本期内的买家。", "new", False),
    ("returning_customers", "本期老客", "本期有计入订单、且此前也下过单的买家。", "returning", False),
    ("active_7", "7日发言买家", "期末前 7 天内发过消息的买家（不含事件）。", "active_7", False),
    ("window_share", "窗口内占比", "期末 48 小时内有互动、可收客服消息的关注者占全部关注者的比例。",
     "in_window", True),
)  # fmt: skip

# What the drill-down page calls the figure whose buyers it lists.
FIGURE_LABELS = {
    "follows": "新关注", "unfollows": "取消关注", "followers": "累积关注（期末）",
    "new": "本期新客", "returning": "本期老客", "lapsed": "流失客户（期末）",
    "prospects": "潜在客户（期末）", "active_7": "7日发言买家", "active_30": "30日发言买家",
    "in_window": "48小时窗口内", "cohort": "复购队列", "funnel": "名片漏斗", "stuck": "名片停在此题",
    "skipped": "名片未填此字段", "tier": "会员等级", "tier_up": "等级上升", "tier_down": "等级下降",
    "campaign": "活动转化",
}  # fmt: skip

STAGE_LABELS = {
    "followed": "本期关注",
    "invited": "收到邀请",
    "consented": "同意",
    "confirmed": "确认名片",
    "matched": "匹配订单",
}
CAMPAIGN_STAGES = {"reached": "触达", "replied": "48h回复", "ordered": "7日下单"}
KIND_LABELS = {"livestream": "直播预告", "recall": "粉丝召回", "broadcast": "群发消息"}
STEP_LABELS = {key: label for key, (label, _) in OPTIONAL_FIELDS.items()} | {
    "consent": "同意条款",
    "name": "称呼",
    "confirm": "确认名片",
    "business_type": "业务类型",
    "region": "地区",
    "interests": "兴趣品类",
}


def number(value: float | None) -> str:
    """A table number: full, comma groups; money keeps two decimals only when it has them."""
    if value is None:
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def card_number(value: float | None) -> str:
    """A card number: 万 from 10,000, 亿 from 100,000,000."""
    if value is None:
        return DASH
    if abs(value) >= 100_000_000:
        return f"{value / 100_000_000:.1f}".rstrip("0").rstrip(".") + "亿"
    if abs(value) >= 10_000:
        return f"{value / 10_000:.1f}".rstrip("0").rstrip(".") + "万"
    return number(round(value))


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def money(value: float | None) -> str:
    return DASH if value is None else f"¥{value:,.0f}"


@dataclass
class Change:
    arrow: str  # ▲ / ▼ / "" (unchanged or unknown)
    text: str  # with its sign: "+12", "-3", "+1.5个百分点", "持平", "—"
    css: str  # up (red) / down (green) / flat


def change(value: float | None, *, rate: bool = False) -> Change:
    if value is None:
        return Change("", DASH, "flat")
    if round(value, 4 if rate else 2) == 0:
        return Change("", "持平", "flat")
    shown = f"{value * 100:+.1f}个百分点" if rate else f"{value:+,.0f}"
    return Change("▲" if value > 0 else "▼", shown, "up" if value > 0 else "down")


@dataclass
class Card:
    key: str
    label: str
    definition: str
    text: str
    exact: str
    change: Change
    previous: str
    drill: str
    note: str = ""  # a second figure the card explains itself with


PARTIAL_MARK = "*"
PARTIAL_NOTE = "* 本月尚未结束，比例还会上升，不代表复购下滑。"


@dataclass
class Cell:
    value: Any  # exact, for CSV and the chart
    text: str
    drill: str | None = None
    partial: bool = False  # a figure of a month still running


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""  # shown under the table (what a mark in it means)

    def chart_data(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": [[c.value for c in row] for row in self.rows],
            "drill": [[c.drill for c in row] for row in self.rows],
            "partial": [[c.partial for c in row] for row in self.rows],
        }


def drill_url(figure: str, **params: Any) -> str:
    query = {"figure": figure} | {k: v for k, v in params.items() if v is not None}
    return DRILL + "?" + urlencode(query)


def bucket_ranges(labels: list[str], granularity: str, period: DateRange) -> list[DateRange]:
    """Each bucket's local dates, cut to the period (as insights.periods.buckets cuts them;
    a label is the bucket's first day in the period)."""
    out = []
    for label in labels:
        start = date.fromisoformat(label)
        end = next_start(bucket_start(start, granularity), granularity) - timedelta(days=1)
        out.append(DateRange(max(start, period.start), min(end, period.end)))
    return out


def kpi_cards(data: dict[str, Any], period: DateRange) -> list[Card]:
    span = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    cards = []
    for key, label, definition, figure, rate in KPI_CARDS:
        k = data["kpis"][key]
        fmt = percent if rate else card_number
        cards.append(
            Card(
                key=key,
                label=label,
                definition=definition,
                text=fmt(k["value"]),
                exact=percent(k["value"]) if rate else number(k["value"]),
                change=change(k["change"], rate=rate),
                previous=fmt(k["previous"]),
                drill=drill_url(figure, **span),
            )
        )
        if key == "net":  # 净增 is not the change of 累积关注: show that one beside it
            moved = change(data["kpis"]["followers"]["change"])
            cards[-1].note = f"累积关注变化 {moved.text}"
    return cards


def _series_table(
    key: str, title: str, section: dict, names: list[tuple[str, str, str | None]],
    period: DateRange, *, fmt=number,
) -> Table:  # fmt: skip
    """One row per bucket; `names` are (series, column label, drill figure or None)."""
    table = Table(key, title, ["时间", *[label for _, label, _ in names]])
    ranges = bucket_ranges(section["buckets"], section["granularity"], period)
    for i, span in enumerate(ranges):
        row = [Cell(section["buckets"][i], section["buckets"][i])]
        for name, _, figure in names:
            v = section["series"][name][i]
            link = (
                drill_url(figure, **{"from": span.start.isoformat(), "to": span.end.isoformat()})
                if figure and v is not None
                else None
            )
            text = money(v) if name.startswith("spend") else fmt(v)
            row.append(Cell(v, text, link))
        table.rows.append(row)
    return table


def tables(data: dict[str, Any], period: DateRange, tier_names: dict[str, str]) -> dict[str, Table]:
    """Every chart's table, by chart key (the keys of the CSV export)."""
    span = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    out: dict[str, Table] = {}
    out["followers"] = _series_table("followers", "粉丝增长", data["followers"], [
        ("follows", "新关注", "follows"), ("unfollows", "取消关注", "unfollows"),
        ("net", "净增", None), ("followers", "累积关注", "followers"),
    ], period)  # fmt: skip
    out["customers"] = _series_table("customers", "新老客户", data["customers"], [
        ("new", "本期新客", "new"), ("returning", "本期老客", "returning"),
        ("lapsed", "流失", "lapsed"), ("orders_new", "新客订单", None),
        ("orders_old", "老客订单", None), ("spend_new", "新客金额", None),
        ("spend_old", "老客金额", None),
    ], period)  # fmt: skip
    out["interaction"] = _series_table("interaction", "互动", data["interaction"], [
        ("active_7", "7日发言", "active_7"), ("active_30", "30日发言", "active_30"),
        ("in_window", "窗口内", "in_window"),
    ], period)  # fmt: skip
    shares = data["interaction"]["series"]["window_share"]
    out["interaction"].columns.append("窗口内占比")
    for row, share in zip(out["interaction"].rows, shares, strict=True):
        row.append(Cell(share, percent(share)))

    cohorts = Table("cohorts", "复购热力", ["首单月", "人数", *[f"M{k}" for k in range(12)]])
    for c in data["cohorts"]:
        row = [Cell(c["month"], c["month"]), Cell(c["size"], number(c["size"]))]
        for k, share in enumerate(c["shares"]):
            link = drill_url("cohort", month=c["month"], k=k, **span) if share is not None else None
            row.append(Cell(share, percent(share), link))
        if c.get("partial") is not None:  # the running month: not over, so not comparable
            cell = row[c["partial"] + 2]
            cell.text, cell.partial = cell.text + PARTIAL_MARK, True
        cohorts.rows.append(row)
    if any(cell.partial for row in cohorts.rows for cell in row):
        cohorts.note = PARTIAL_NOTE
    out["cohorts"] = cohorts

    funnel = data["funnel"]
    stages = Table("funnel", "名片漏斗", ["阶段", "买家", "占首阶段", "占上一阶段", "上期"])
    first = funnel["stages"][0]["buyers"] if funnel["stages"] else 0
    prev = None
    for s in funnel["stages"]:
        n = s["buyers"]
        stages.rows.append([
            Cell(STAGE_LABELS.get(s["name"], s["name"]), STAGE_LABELS.get(s["name"], s["name"])),
            Cell(n, number(n), drill_url("funnel", stage=s["name"], **span)),
            Cell(n / first if first else None, percent(n / first) if first else DASH),
            Cell(n / prev if prev else None, percent(n / prev) if prev else DASH),
            Cell(s["previous_period"], number(s["previous_period"])),
        ])  # fmt: skip
        prev = n
    out["funnel"] = stages
    stuck = Table("stuck", "停在哪一题", ["问题", "买家"])
    for step, n in funnel["stuck_at"]:
        label = STEP_LABELS.get(step, step)
        stuck.rows.append(
            [Cell(label, label), Cell(n, number(n), drill_url("stuck", step=step, **span))]
        )
    out["stuck"] = stuck
    skipped = Table("skipped", "最常跳过的字段", ["字段", "未填名片数"])
    for fkey, label, n in funnel["skipped"]:
        skipped.rows.append(
            [Cell(label, label), Cell(n, number(n), drill_url("skipped", field=fkey, **span))]
        )
    out["skipped"] = skipped

    tiers = data["tiers"]
    dist = Table("tiers", "会员等级分布", ["等级", "买家"])
    for tkey, n in tiers["distribution"].items():
        label = tier_names.get(tkey, "无等级" if tkey == "none" else tkey)
        dist.rows.append(
            [Cell(label, label), Cell(n, number(n), drill_url("tier", tier=tkey, **span))]
        )
    out["tiers"] = dist
    moves = Table("tier_moves", "等级升降", ["时间", "升级", "降级"])
    for i, rng in enumerate(bucket_ranges(tiers["buckets"], data["granularity"], period)):
        b = {"from": rng.start.isoformat(), "to": rng.end.isoformat()}
        up, down = tiers["up"][i], tiers["down"][i]
        moves.rows.append([
            Cell(tiers["buckets"][i], tiers["buckets"][i]),
            Cell(up, number(up), drill_url("tier_up", **b) if up is not None else None),
            Cell(down, number(down), drill_url("tier_down", **b) if down is not None else None),
        ])  # fmt: skip
    out["tier_moves"] = moves

    camps = Table("campaigns", "活动转化", ["活动", "类型", "开始", *CAMPAIGN_STAGES.values(),
                                            "回复率", "下单率"])  # fmt: skip
    for c in data["campaigns"]["campaigns"][:10]:
        row = [
            Cell(c["name"], c["name"]),
            Cell(KIND_LABELS.get(c["kind"], c["kind"]), KIND_LABELS.get(c["kind"], c["kind"])),
            Cell(c["first_due"][:10], c["first_due"][:10]),
        ]
        for stage in CAMPAIGN_STAGES:
            link = drill_url("campaign", campaign_id=c["campaign_id"], stage=stage, **span)
            row.append(Cell(c[stage], number(c[stage]), link))
        for stage in ("replied", "ordered"):
            rate = c[stage] / c["reached"] if c["reached"] else None
            row.append(
                Cell(
                    rate,
                    f"{percent(rate)} · {c[stage]}/{c['reached']}" if rate is not None else DASH,
                )
            )
        camps.rows.append(row)
    out["campaigns"] = camps
    kinds = Table("campaign_kinds", "按活动类型", ["类型", *CAMPAIGN_STAGES.values(), "上期触达"])
    for kind, figures in data["campaigns"]["by_kind"].items():
        before = data["campaigns"]["by_kind_previous"].get(kind, {}).get("reached")
        label = KIND_LABELS.get(kind, kind)
        kinds.rows.append(
            [Cell(label, label)]
            + [Cell(figures.get(s, 0), number(figures.get(s, 0))) for s in CAMPAIGN_STAGES]
            + [Cell(before, number(before))]
        )
    out["campaign_kinds"] = kinds
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell_text(value: Any) -> str:
    """A number stays a number (-3 is no formula); text that could start one gets a '."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a count or whole yuan: 6, never 6.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def table_csv(table: Table) -> bytes:
    """The table as CSV for Excel and WPS: UTF-8 with a BOM; exact values, formulas defused."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_cell_text(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_cell_text(c.value) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
