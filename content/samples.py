"""Sample contexts for checking and previewing a template, and the plain values it may see.

``plain_variables`` reduces what the code passes to what the catalogue documents: a
documented object becomes a read-only namespace of its documented attributes, anything else
a string, number, boolean, None, tuple or dict of those — never an ORM row, so an edited
template cannot reach a buyer's other fields or the database. ``sample_contexts`` builds
the contexts a version must render for before it may be published: each tier and none, a
full card and no card, inside and outside the 48-hour window, a very long company name.
This module does not store or publish anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType, SimpleNamespace
from typing import Any

from bot.config import Config
from content.catalogue import CARD, CARD_CONFIG, TemplateInfo

LONG_COMPANY = "义乌市" + "福田国际商贸城小商品批发" * 8 + "有限公司"


class View(SimpleNamespace):
    """A documented object as a template sees it: only its documented attributes."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:
            raise AttributeError("read-only")
        super().__setattr__(name, value)


def _plain(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if depth > 3:
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({str(k): _plain(v, depth + 1) for k, v in value.items()})
    if isinstance(value, View):
        return value
    return str(value)


def _view(obj: Any, attrs: tuple[str, ...]) -> View | None:
    if obj is None:
        return None
    get = obj.get if isinstance(obj, dict) else lambda a, d=None: getattr(obj, a, d)
    return View(**{a: _plain(get(a, None)) for a in attrs})


def plain_variables(info: TemplateInfo, variables: dict[str, Any]) -> dict[str, Any]:
    """The documented variables of `info`, as plain values (undocumented ones are dropped)."""
    out: dict[str, Any] = {}
    for name, var in info.variables.items():
        if name not in variables:
            continue
        value = variables[name]
        if not var.attrs:
            out[name] = _plain(value)
        elif var.many:
            out[name] = tuple(_view(v, var.attrs) for v in value or ())
        else:
            out[name] = _view(value, var.attrs)
    return out


@dataclass(frozen=True)
class Sample:
    key: str  # stable id for the preview picker
    label: str  # 金卡 · 有名片 · 窗口内
    variables: dict[str, Any]
    in_window: bool


def _buyer(card: bool, long_company: bool) -> dict[str, Any]:
    if not card:
        return dict.fromkeys(CARD.attrs) | {"opted_out": False}
    return {
        "display_name": "王姐",
        "company": LONG_COMPANY if long_company else "王姐服饰批发",
        "business_type": "实体批发",
        "channels": "档口、1688",
        "interests": "女装、童装",
        "volume": "每月约 3 万元",
        "region": "广东 广州",
        "phone": "13800138000",
        "platform_account": "wangjie_fz",
        "opted_out": False,
    }


_STATEMENT = {
    "period": "2026年11月", "orders": 12, "order_total": 1_284_656, "refund_total": -50_000,
    "adjustment_total": -12_000, "net": 1_222_656, "rate": "1%", "rebate": 12_227,
    "paid_on": "2026-12-08", "paid_method": "转账",
}  # fmt: skip


def _values(config: Config, tier: Any, buyer: dict[str, Any], when: str) -> dict[str, Any]:
    levels = sorted(config.tiers.levels, key=lambda t: t.rank)
    above = [t for t in levels if tier is None or t.rank > tier.rank]
    below = [t for t in levels if tier is not None and t.rank < tier.rank]
    next_tier = above[0] if above else None
    previous = above[0] if when == "downgrade" else (below[-1] if below else None)
    return {
        "buyer": buyer,
        "tier": tier,
        "previous": previous,
        "next_tier": next_tier,
        "need_spend": 3200.0 if next_tier else None,
        "need_orders": 3 if next_tier else None,
        "orders": 5,
        "spend": 16800.0,
        "window_months": config.tiers.window_months,
        "manual_until": None,
        "grace_until": None,
        "field": {"key": "region", "label": "地区"},
        "fields": [{"key": "name", "label": "称呼"}, {"key": "region", "label": "地区"}],
        "labels": ["称呼", "地区"],
        "reason": "region",
        "paused": True,
        "unknown": False,
        "kind": "thanks",
        "already": False,
        "rsvped": False,
        "title": "春季新品直播",
        "link": "https://live.example.com/318",
        "start_local": "5月18日 20:00",
        "end_time": "22:00",
        "end_local": "5月18日 22:00",
        "until": "1小时",
        "window_start_local": "5月18日 00:00",
        "window_end_local": "5月18日 23:59",
        "text": "新款春装已到货，欢迎选购。",
        "name": buyer.get("display_name") or "老朋友",
        "interests": ["女装"],
        "step": {"kind": "announce", "seq": 0, "offset_s": 0},
        "when": "明天 09:00",  # inbox_ack_closed: when staff answer
        "rebate_progress": {"period": "本季度", "need": 820_000, "rate": "3%"},
        "progress": {"period": "本月", "need": 820_000, "rate": "3%"},
        "statement": _STATEMENT,
        "running": _STATEMENT | {"period": "2026年12月", "paid_on": None, "paid_method": None},
        "topic": "statement",
        "owed": 12_350,
        "staff_in": False,  # inbox_ack_again: within business hours
    }


def sample_contexts(info: TemplateInfo, config: Config) -> list[Sample]:
    """Every sample context `info` must render for (plain values, documented variables)."""
    samples = []
    tiers = [None, *sorted(config.tiers.levels, key=lambda t: t.rank)]
    levels = sorted(config.tiers.levels, key=lambda t: t.rank)
    if info.when in ("tier", "upgrade"):
        tiers = levels
    elif info.when == "no_tier":
        tiers = [None]
    elif info.when == "downgrade":
        tiers = [None, *levels[:-1]]
    for tier in tiers:
        for card, long_company in ((True, False), (False, False), (True, True)):
            for in_window in (True, False):
                buyer = _buyer(card, long_company)
                values = _values(config, tier, buyer, info.when)
                values["card"] = buyer
                variables = {}
                for name, var in info.variables.items():
                    if var is CARD_CONFIG:
                        variables[name] = config.card
                    else:
                        variables[name] = values[name]
                label = " · ".join(
                    [
                        tier.name if tier else "无等级",
                        ("超长公司名" if long_company else "有名片") if card else "无名片",
                        "窗口内" if in_window else "窗口外",
                    ]
                )
                key = (
                    f"{tier.key if tier else 'none'}-{int(card)}{int(long_company)}{int(in_window)}"
                )
                samples.append(Sample(key, label, plain_variables(info, variables), in_window))
    return samples


__all__ = ["LONG_COMPANY", "Sample", "View", "plain_variables", "sample_contexts"]
