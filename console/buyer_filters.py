"""The buyer list's filter chips: read from GET parameters, checked, said in words, and mapped
onto the segment language.

Every chip is one segment condition (``docs/segments.md``), and the list's SQL condition is
compiled by ``scheduler.segments.compile_segment`` from the same spec that 存为分群 saves,
so a saved segment always counts exactly the buyers the list showed (search words excepted:
they are not part of the segment language, so a list with a search cannot be saved).

| chip | parameter | segment condition |
|---|---|---|
| 等级 | ``tier`` (key or ``none``) | ``tier eq`` / ``tier is_set false`` |
| 客户状态 | ``status`` | ``customer eq`` (prospect/new/returning); 流失 = ``orders_total gte 1`` and ``orders_12m eq 0`` |
| 业务类型 | ``btype`` | ``business_type eq`` |
| 地区 | ``region`` | ``region eq`` |
| 兴趣 | ``interest`` | ``interests contains`` |
| 标签 | ``tag`` | ``tags contains`` |
| 最近互动 | ``days`` | ``days_since_interaction lte`` |
| 名片 | ``card`` yes/no | ``has_card eq`` |
| 退订 | ``optout`` yes/no | ``opted_out eq`` |
| 补货节奏 | ``rhythm`` | ``reorder_state eq`` (on_rhythm/due/overdue/lapsed) |

This module does not query: ``members/buyer_book.py`` runs the condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

from bot.config import Config
from members.buyer_book import SORTS, BookError, check_query, check_tag
from members.card.choices import BUSINESS_TYPES
from scheduler.segment_vocabulary import places_named
from scheduler.segments import SegmentError, compile_segment

STATUSES = {"prospect": "潜在", "new": "新客", "returning": "老客", "lapsed": "流失"}
YES_NO = {"yes": "有", "no": "无"}
RHYTHMS = {"due": "该补货了", "overdue": "补货逾期", "on_rhythm": "节奏正常", "lapsed": "已流失"}
SORT_LABELS = {
    "last_interaction": "最近互动",
    "spend_12m": "近12月采购额",
    "orders_total": "订单数",
    "subscribed_at": "关注时间",
}
FILTER_KEYS = (
    "tier", "status", "btype", "region", "interest", "tag", "days", "card", "optout", "rhythm",
)  # fmt: skip
MAX_DAYS = 3650


@dataclass(frozen=True)
class BuyerFilters:
    """The checked parameters of one list view."""

    q: str = ""
    chips: dict[str, str] = field(default_factory=dict)  # FILTER_KEYS -> raw value
    sort: str = "last_interaction"
    desc: bool = True
    cursor: str | None = None

    def params(self, **override: Any) -> dict[str, str]:
        """The GET parameters of this view (without the cursor), with overrides."""
        out = {"q": self.q} | self.chips
        if self.sort != "last_interaction" or not self.desc:
            out |= {"sort": self.sort, "dir": "desc" if self.desc else "asc"}
        out |= {k: str(v) for k, v in override.items() if v is not None}
        return {k: v for k, v in out.items() if v}

    @property
    def any(self) -> bool:
        return bool(self.q or self.chips)


def _get(query: Mapping[str, str], key: str, limit: int = 64) -> str:
    return str(query.get(key, "")).strip()[:limit]


def parse_filters(query: Mapping[str, str], config: Config) -> BuyerFilters:
    """The view the parameters ask for; BookError (Chinese) for a value nobody can choose."""
    chips: dict[str, str] = {}
    tiers = {t.key for t in config.tiers.levels} | {"none"}
    checks = {
        "tier": (tiers, "等级"),
        "status": (set(STATUSES), "客户状态"),
        "btype": (set(BUSINESS_TYPES), "业务类型"),
        "interest": (set(config.card.interest_categories), "兴趣"),
        "card": (set(YES_NO), "名片"),
        "optout": (set(YES_NO), "退订"),
        "rhythm": (set(RHYTHMS), "补货节奏"),
    }
    for key in FILTER_KEYS:
        value = _get(query, key)
        if not value:
            continue
        if key in checks and value not in checks[key][0]:
            raise BookError(f"筛选「{checks[key][1]}」的值「{value}」不存在，请从列表中选择")
        if key == "tag":
            value = check_tag(value)
        if key == "region" and not places_named(value):
            raise BookError(f"不认识的地区「{value}」：请填省或市，如 广东、广州")
        if key == "days" and not (value.isdigit() and 1 <= int(value) <= MAX_DAYS):
            raise BookError(f"最近互动天数应为 1 到 {MAX_DAYS} 的整数")
        chips[key] = value
    sort = _get(query, "sort") or "last_interaction"
    if sort not in SORTS:
        raise BookError("排序方式无效，可按：" + "、".join(SORT_LABELS.values()))
    direction = _get(query, "dir") or "desc"
    if direction not in ("asc", "desc"):
        raise BookError("排序方向应为 asc 或 desc")
    cursor = _get(query, "after", 80) or None
    return BuyerFilters(
        check_query(_get(query, "q", 200)), chips, sort, direction == "desc", cursor
    )


def to_spec(filters: BuyerFilters) -> dict[str, Any]:
    """The chips as a segment spec (search words are not part of it)."""
    c = filters.chips
    conds: list[dict[str, Any]] = []

    def cond(name: str, op: str, value: Any) -> None:
        conds.append({"field": name, "op": op, "value": value})

    if "tier" in c:
        if c["tier"] == "none":
            cond("tier", "is_set", False)
        else:
            cond("tier", "eq", c["tier"])
    if "status" in c:
        if c["status"] == "lapsed":
            cond("orders_total", "gte", 1)
            cond("orders_12m", "eq", 0)
        else:
            cond("customer", "eq", c["status"])
    if "btype" in c:
        cond("business_type", "eq", c["btype"])
    if "region" in c:
        cond("region", "eq", c["region"])
    if "interest" in c:
        cond("interests", "contains", c["interest"])
    if "tag" in c:
        cond("tags", "contains", c["tag"])
    if "days" in c:
        cond("days_since_interaction", "lte", int(c["days"]))
    if "card" in c:
        cond("has_card", "eq", c["card"] == "yes")
    if "optout" in c:
        cond("opted_out", "eq", c["optout"] == "yes")
    if "rhythm" in c:
        cond("reorder_state", "eq", c["rhythm"])
    return {"all": conds}


def condition(filters: BuyerFilters, now: datetime) -> ColumnElement[bool] | None:
    """The chips as one SQL condition (None: no chips)."""
    if not filters.chips:
        return None
    try:
        return compile_segment(to_spec(filters), now)
    except SegmentError as exc:  # parse_filters checked every value; this is a bug
        raise RuntimeError(f"buyer filters compiled to a bad segment: {exc}") from exc


def in_words(filters: BuyerFilters, config: Config) -> str:
    """The view said as staff read it: "金卡 · 老客 · 地区 广东 · 30 天内互动 · 搜索「张」"."""
    c = filters.chips
    names = {t.key: t.name for t in config.tiers.levels} | {"none": "无等级"}
    parts = []
    if "tier" in c:
        parts.append(names[c["tier"]])
    if "status" in c:
        parts.append(STATUSES[c["status"]])
    if "btype" in c:
        parts.append(BUSINESS_TYPES[c["btype"]][0])
    if "region" in c:
        parts.append(f"地区 {c['region']}")
    if "interest" in c:
        parts.append(f"兴趣含 {c['interest']}")
    if "tag" in c:
        parts.append(f"标签含「{c['tag']}」")
    if "days" in c:
        parts.append(f"{c['days']} 天内互动")
    if "card" in c:
        parts.append("已交换名片" if c["card"] == "yes" else "未交换名片")
    if "optout" in c:
        parts.append("已退订" if c["optout"] == "yes" else "未退订")
    if "rhythm" in c:
        parts.append(RHYTHMS[c["rhythm"]])
    if filters.q:
        parts.append(f"搜索「{filters.q}」")
    return " · ".join(parts) or "全部买家"
