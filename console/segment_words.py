"""The segment builder's words: how typed values are understood (淘宝 → 淘宝/天猫等网店,
金卡会员 → gold), the values nobody can have refused in Chinese, stored values said as
operators say them, and the segment language's English problems in Chinese.

The builder (``console/segment_builder.py``) calls these row by row; the summary
(``console/segment_summary.py``) reads ``value_label``. Nothing here parses form fields or
compiles a spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from members.card.choices import BUSINESS_TYPES, CHANNELS, INTEREST_SYNONYMS
from scheduler.segment_vocabulary import (
    Vocabulary,
    business_type_key,
    canonical_words,
    city_spellings,
    places_named,
    province_spellings,
)

_INTEREST = canonical_words(INTEREST_SYNONYMS)
_CHANNEL = canonical_words(CHANNELS)


def echoes(name: str, words: Iterable[str], known: Vocabulary | None) -> list[tuple[str, str]]:
    """(typed, understood) for each typed word understood as something else."""
    names = dict(known.tier_names) if known else {}
    shown = []
    for word in (w for w in words if w):
        if name == "tier":
            key = known.tier_key(word) if known else None
            meant = names.get(key, word) if key else word
        else:
            meant = _canonical(name, word)
        if meant and meant != word:
            shown.append((word, meant))
    return shown


def checked_value(name: str, value: Any, known: Vocabulary) -> Any:
    """`value` with tier names turned into keys; ValueError (Chinese) for a tier, interest
    or place nobody can have."""
    words = value if isinstance(value, list) else [value]
    if name == "tier":
        keys = [known.tier_key(str(w)) for w in words]
        for word, key in zip(words, keys, strict=True):
            if key is None:
                names = "、".join(n for _, n in known.tier_names) or "（还没有设置会员等级）"
                raise ValueError(f"没有「{word}」这个会员等级；可选：{names}")
        return keys if isinstance(value, list) else keys[0]
    if name == "interests":
        for word in words:
            if _INTEREST(str(word)) not in known.interests:
                listed = "、".join(known.interests) or "（还没有设置品类）"
                raise ValueError(f"没有「{word}」这个品类；可选：{listed}")
    if name == "reorder_state":
        by_label = {label: key for key, label in REORDER_LABELS.items()}
        keys = [by_label.get(str(w).strip(), str(w).strip()) for w in words]
        for word, key in zip(words, keys, strict=True):
            if key not in REORDER_LABELS:
                raise ValueError(
                    f"没有「{word}」这个补货节奏；可选：{'、'.join(REORDER_LABELS.values())}"
                )
        return keys if isinstance(value, list) else keys[0]
    if name in ("province", "city", "region"):
        for word in words:
            if not places_named(str(word)):
                raise ValueError(f"没有叫「{word}」的省或市，请填写如 广东、广州")
    return value


# English problems of the segment language (the API's words) as staff read them.
_PROBLEMS = (
    ("unknown field", "没有这个字段"),
    ("does not take operator", "这个字段不能用这个条件"),
    ("unknown tier", "没有这个会员等级"),
    ("unknown place", "没有这个省或市"),
    ("unknown interests", "没有这个品类"),
    ("missing", "缺少内容"),
    ("nested deeper", "分组嵌套太深"),
)


def problem_in_chinese(problem: str) -> str:
    """A ``SegmentError`` problem (English, for the API) in Chinese."""
    if re.search(r"[\u4e00-\u9fff]", problem) and not re.search(r"[A-Za-z]{3,}", problem):
        return problem
    return next((zh for en, zh in _PROBLEMS if en in problem), "写法不对，请检查这个值")


def _canonical(name: str, word: str) -> str:
    if name == "business_type":
        key = business_type_key(word)
        return BUSINESS_TYPES[key][0] if key in BUSINESS_TYPES else ""
    if name == "interests":
        return _INTEREST(word)
    if name == "channels":
        return _CHANNEL(word)
    if name in ("province", "region"):
        return "/".join(sorted(province_spellings(word) - {word})) or word
    if name == "city":
        return "/".join(sorted(city_spellings(word) - {word})) or word
    return word


REORDER_LABELS = {
    "on_rhythm": "节奏正常",
    "due": "该补货了",
    "overdue": "补货逾期",
    "lapsed": "已流失",
}


def value_label(name: str, value: Any, tier_names: dict[str, str]) -> str:
    """A stored value as operators say it: gold → 金卡, taobao → 淘宝/天猫等网店."""
    if name == "tier":
        return tier_names.get(str(value), str(value))
    if name == "business_type":
        key = business_type_key(str(value))
        return BUSINESS_TYPES[key][0] if key in BUSINESS_TYPES else str(value)
    if name == "customer":
        return {"prospect": "潜在客户", "new": "新客", "returning": "老客"}.get(value, str(value))
    if name == "reorder_state":
        return REORDER_LABELS.get(str(value), str(value))
    if name == "rsvp":
        return f"直播 #{value}"
    if name == "interests":
        return _INTEREST(str(value))
    if name == "channels":
        return _CHANNEL(str(value))
    return str(value)
