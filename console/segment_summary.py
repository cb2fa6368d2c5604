"""The segment builder's one-sentence Chinese summary: "金卡或银卡，兴趣含女装，30 天未互动，排除已退订".

It reads a spec that compiled (the builder's own shape or any other) and says it in words, one
phrase per condition; it checks nothing and reads no database.
"""

from __future__ import annotations

from typing import Any

from console.segment_builder import FIELD_LABELS
from console.segment_words import value_label

SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
FLAGS = {
    "opted_out": ("已退订", "未退订"),
    "subscribed": ("已关注", "未关注"),
    "has_card": ("已填名片", "未填名片"),
    "imported": ("同步导入的粉丝", "非同步导入"),
}
SHORT = {"interests": "兴趣", "channels": "渠道", "tags": "标签"}


def summarize(spec: Any, tier_names: dict[str, str]) -> str:
    """The spec in one sentence ("全部买家" for an empty ``all``)."""
    text = _node(spec, tier_names, top=True)
    return text or "全部买家"


def _node(node: Any, tiers: dict[str, str], top: bool = False, in_any: bool = False) -> str:
    if not isinstance(node, dict):
        return ""
    if "all" in node and isinstance(node["all"], list):
        parts = [p for p in (_node(c, tiers) for c in node["all"]) if p]
        text = "，".join(parts)
        return f"（{text}）" if in_any and len(parts) > 1 else text
    if "any" in node and isinstance(node["any"], list):
        parts = [p for p in (_node(c, tiers, in_any=True) for c in node["any"]) if p]
        return "或".join(parts) if parts else "没有买家"
    if "not" in node:
        inner = node["not"]
        return "排除" + _node(inner, tiers, in_any=True)
    return _leaf(node, tiers)


def _leaf(node: dict[str, Any], tiers: dict[str, str]) -> str:
    name, op, value = node.get("field"), node.get("op"), node.get("value")
    label = FIELD_LABELS.get(name, str(name)).split("（")[0]  # 地区（省或市） → 地区

    def words(joiner: str = "或") -> str:
        items = value if isinstance(value, list) else [value]
        return joiner.join(value_label(name, v, tiers) for v in items)

    if name in FLAGS:
        return FLAGS[name][0 if value else 1]
    if op == "is_set":
        return f"{label}{'已填写' if value else '未填写'}"
    if op == "is_empty":
        return f"{SHORT.get(name, label)}{'为空' if value else '不为空'}"
    if name == "days_since_interaction":
        return _days(op, value, "天未互动", "天内有互动")
    if name == "days_since_follow":
        return "关注" + _days(op, value, "天以上", "天以内")
    if name in SHORT:
        joiner = "和" if op == "contains_all" else "或"
        return f"{SHORT[name]}含{words(joiner)}"
    if name in ("tier", "customer", "business_type", "rsvp", "reorder_state"):
        return words() if op in ("eq", "in") else f"不是{words()}"
    if op in ("eq", "in"):
        return f"{label}为{words()}"
    if op in ("ne", "not_in"):
        return f"{label}不是{words()}"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{label} {_num(value[0])}–{_num(value[1])}"
    return f"{label} {SYMBOLS.get(op, op)} {_num(value)}"


def _days(op: str, value: Any, since: str, within: str) -> str:
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f" {_num(value[0])}–{_num(value[1])} {since}".strip()
    if op in ("gt", "gte"):
        return f"{_num(value)} {since}"
    return f"{_num(value)} {within}"


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)
