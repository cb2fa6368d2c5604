"""Which WeChat template message each purpose uses, and how its typed fields are filled.

A purpose (``tier_change``, ``inbox_reply``: service notices only) has a template id from the
configuration (``[wechat] template_ids``); a feature package may override it at runtime with a
layout — an id, a text per field of the template's own keys (``thing1``, ``time2``,
``amount3`` …) with ``{placeholder}``s the sender fills, and a link. Since 2023-05-04 WeChat
shows no ``first`` line or ``remark`` tail, strips newlines and shows each field only up to
its type's limit (:data:`FIELD_LIMITS`); :func:`field_problem` says why a key or value breaks
those rules and :func:`fit` makes a filled value fit them. Filling replaces ``{name}`` by the
sender's value and nothing else (no format specs, no attribute access), so a layout cannot
reach anything. This module does not store layouts or decide when a template message is
allowed (``channels.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.wechat.client import WeChatAPI

PLACEHOLDER = re.compile(r"\{(\w{1,32})\}")
# Characters each typed field shows (the platform's limits for category templates).
FIELD_LIMITS = {
    "thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32,
    "letter": 32, "phone_number": 17, "amount": 32, "time": 32, "date": 32, "car_number": 8,
    "const": 20,
}  # fmt: skip
FIELD_LABELS = {
    "thing": "事物", "phrase": "短语", "name": "姓名", "character_string": "字符串",
    "number": "数字", "letter": "字母", "phone_number": "电话", "amount": "金额",
    "time": "时间", "date": "日期", "car_number": "车牌", "const": "常量",
}  # fmt: skip
FIELD_KEY = re.compile(
    r"^(" + "|".join(sorted(FIELD_LIMITS, key=len, reverse=True)) + r")(\d{1,2})$"
)
RETIRED_KEYS = re.compile(r"^(first|remark|keyword\d+)$")


def field_type(key: str) -> str | None:
    """The type of a template field key (``thing1`` → ``thing``), or None."""
    match = FIELD_KEY.match(key)
    return match.group(1) if match else None


def field_problem(key: str, value: str | None = None) -> str | None:
    """Why `key` (with its filled `value`) breaks WeChat's field rules, in Chinese; or None."""
    if RETIRED_KEYS.match(key):
        return (f"字段 {key} 已被微信取消（2023 年 5 月起不再显示）：请用模板自己的字段，"
                "如 thing1、time2")  # fmt: skip
    kind = field_type(key)
    if kind is None:
        return f"字段名 {key} 不对：应为模板里的字段，如 thing1、time2、amount3"
    if value is None:
        return None
    if "\n" in value or "\r" in value:
        return f"字段 {key} 不能换行（微信会去掉换行）"
    limit = FIELD_LIMITS[kind]
    if len(value) > limit:
        return (f"字段 {key}（{FIELD_LABELS[kind]}）最多 {limit} 个字，"
                f"按示例填入后有 {len(value)} 个字")  # fmt: skip
    return None


TEMPLATE_KEY = re.compile(r"\{\{\s*(\w+)\.DATA\s*\}\}")


@dataclass(frozen=True)
class PrivateTemplate:
    """One of the account's templates (``template/get_all_private_template``)."""

    template_id: str
    title: str
    keys: tuple[str, ...]  # its fields in order: thing1, time2 …
    example: str = ""


async def private_templates(api: WeChatAPI) -> list[PrivateTemplate]:
    """The account's templates with the keys of their fields, read from their content."""
    answer = await api.call("GET", "cgi-bin/template/get_all_private_template")
    found = []
    for item in answer.get("template_list") or []:
        if not isinstance(item, dict) or not item.get("template_id"):
            continue
        keys = tuple(dict.fromkeys(TEMPLATE_KEY.findall(str(item.get("content") or ""))))
        found.append(PrivateTemplate(str(item["template_id"]), str(item.get("title") or ""),
                                     keys, str(item.get("example") or "")))  # fmt: skip
    return found


def fit(key: str, value: str) -> str:
    """`value` as WeChat shows it in field `key`: one line, cut to the type's limit."""
    one_line = " ".join(value.split())
    kind = field_type(key)
    return one_line[: FIELD_LIMITS[kind]] if kind else one_line


@dataclass(frozen=True)
class TemplateLayout:
    template_id: str
    fields: dict[str, str] = field(default_factory=dict)  # field → text with {placeholders}
    url: str = ""


def fill(text: str, values: dict[str, Any]) -> str:
    """`text` with each known ``{name}`` replaced by its value (unknown ones stay)."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


class TemplateMessageBook:
    """The configured template ids, overridden per purpose by ``overrides``."""

    def __init__(self, configured: dict[str, str]) -> None:
        self.configured = configured
        self.overrides: dict[str, TemplateLayout] = {}

    def template_id(self, purpose: str) -> str | None:
        layout = self.overrides.get(purpose)
        return (layout.template_id if layout else None) or self.configured.get(purpose) or None

    def data(
        self,
        purpose: str,
        values: dict[str, Any],
        default: dict[str, Any],
        url: str | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """The template data and link for `purpose`: the override's fields filled with
        `values`, or `default` when no fields are set."""
        layout = self.overrides.get(purpose)
        if layout is None or not layout.fields:
            return default, url
        data = {
            name: {"value": fit(name, fill(text, values))} for name, text in layout.fields.items()
        }
        return data, fill(layout.url, values) or url


__all__ = [
    "FIELD_LABELS",
    "FIELD_LIMITS",
    "PrivateTemplate",
    "TemplateLayout",
    "TemplateMessageBook",
    "field_problem",
    "field_type",
    "fill",
    "fit",
    "private_templates",
]
