"""Staff editing a buyer's card (名片) in the console, with the card's own parsers.

A staff member types a field as a buyer would ("广东 广州", "5万", "淘宝"); the same parser
the card dialog uses turns it into the stored value, so a staff edit can never store what the
buyer could not have. An empty answer clears the field. The console marks edited fields
员工修改 from its audit entries; this module only parses and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.dialog.forms.fields import Invalid
from bot.models import Buyer
from members.buyer_book import BookError
from members.card.choices import parse_business_type, parse_channels, parse_interests
from members.card.contact import (
    parse_company,
    parse_display_name,
    parse_phone,
    parse_platform_account,
)
from members.card.profile import apply_card_value, card_values, card_view
from members.card.regions import parse_region
from members.card.volume import parse_volume

MAX_INPUT = 200

# field -> (label, what a valid answer looks like)
FIELDS: dict[str, tuple[str, str]] = {
    "display_name": ("称呼", "如 张总、李姐，不含电话或网址"),
    "company": ("公司/店铺", "公司或店铺名称，不含电话或网址"),
    "business_type": ("业务类型", "淘宝/天猫店、微商/社群、跨境、实体店、批发、其他"),
    "channels": ("销售渠道", "如 抖音、线下门店，多个用顿号分开"),
    "interests": ("兴趣品类", "配置中的品类名称，多个用顿号分开"),
    "volume": ("月采购量", "如 5万、2-5万"),
    "region": ("地区", "省市，如 广东 广州"),
    "phone": ("手机", "11 位中国大陆手机号"),
    "platform_account": ("平台账号", "买家在平台上的账号名"),
}


def _parser(field: str, categories: Sequence[str]) -> Callable[[str], Any]:
    def region(text: str) -> Any:
        place = parse_region(text)
        return place if isinstance(place, Invalid) else [place.province, place.city]

    def volume(text: str) -> Any:
        value = parse_volume(text)
        return value if isinstance(value, Invalid) else list(value)

    return {
        "display_name": parse_display_name,
        "company": parse_company,
        "business_type": parse_business_type,
        "channels": parse_channels,
        "interests": lambda t: parse_interests(t, categories),
        "volume": volume,
        "region": region,
        "phone": parse_phone,
        "platform_account": parse_platform_account,
    }[field]


def _empty(field: str) -> Any:
    if field in ("volume", "region"):
        return [None, None]
    return [] if field in ("channels", "interests") else None


def edit_card_field(
    buyer: Buyer, field: str, text: str, categories: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse `text` as the card's `field` and store it; returns (before, after) as the buyer
    reads them. BookError names the field and what it expects."""
    if field not in FIELDS:
        raise BookError("没有这个名片字段")
    label, expected = FIELDS[field]
    text = text.strip()
    if len(text) > MAX_INPUT:
        raise BookError(f"「{label}」最多 {MAX_INPUT} 个字")
    before = {field: card_view(buyer)[field]}
    if not text:
        value = _empty(field)
    else:
        value = _parser(field, categories)(text)
        if isinstance(value, Invalid) or value in (None, []):
            raise BookError(f"「{label}」无法识别：{expected}")
    apply_card_value(buyer, field, value)
    return before, {field: card_view(buyer)[field]}


def card_fields(buyer: Buyer) -> list[tuple[str, str, str, str]]:
    """(field, label, shown value, value to prefill the edit box) for every card field; the
    shown value parses back to the same stored value, so saving it unchanged changes nothing."""
    view, values = card_view(buyer), card_values(buyer)
    return [
        (field, label, view[field], view[field] if field in values else "")
        for field, (label, _expected) in FIELDS.items()
    ]
