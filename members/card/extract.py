"""One sentence, several card fields: "我在淘宝卖女装，每月拿货5万左右，广州的".

The extractor only fills what it recognises with confidence: a business-type word, category
words, an amount with a unit (or after 拿货/进货/采购), a place name that is not an everyday
word, a mobile number, a name introduced by 我叫 / 叫我 / 我姓. Company names are never
guessed, and contact details ("手机138…", "微信号abc") are read as a phone number only,
never as product or channel words. The form engine asks for whatever is left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.dialog.routing import normalize
from members.card.choices import BUSINESS_TYPES, CHANNELS, INTEREST_SYNONYMS, fold
from members.card.contact import PHONE_IN_TEXT, find_phone, without_contacts
from members.card.regions import resolve_region
from members.card.volume import parse_volume

# An amount with a unit, or right after a purchasing verb ("拿货8000").
AMOUNT = re.compile(
    r"(?:(?:拿货|进货|采购|订货|要货|每个?月|月均)[^\d一二两三四五六七八九十几]{0,4})?"
    r"((?:\d+(?:\.\d+)?|[一二两三四五六七八九十几]+)(?:\s*(?:-|~|到|至)\s*(?:\d+(?:\.\d+)?|[一二两三四五六七八九十几]+))?"
    r"\s*(?:万|w|k|千)(?:元|块)?(?:左右|上下|以上|多)?)"
)
NAME_IN_TEXT = re.compile(
    r"(?:我叫|叫我|我姓)([\u4e00-\u9fffA-Za-z]{1,6}?)(?=[,，。.!！]|就行|就好|$)"
)
AMOUNT_AFTER_VERB = re.compile(r"(?:拿货|进货|采购|订货|要货)[^\d]{0,4}(\d{3,9})(?:元|块)?")


# Business-type words as the extractor looks for them (folded once; "其他" names no type).
TYPE_WORDS = [
    (fold(w), key)
    for key, (label, words) in BUSINESS_TYPES.items()
    if key != "other"
    for w in (label, *words)
    if len(w) >= 2
]


def _business_type(text: str) -> str | None:
    t = fold(text)
    hits = [(t.find(w), key) for w, key in TYPE_WORDS if w in t]
    return min(hits)[1] if hits else None  # the first one mentioned


def _channels(text: str) -> list[str]:
    t = normalize(text)
    hits = [(t.find(w), name) for name, words in CHANNELS.items() for w in words
            if len(w) >= 2 and w in t and name != "批发市场"]  # fmt: skip
    return list(dict.fromkeys(name for _, name in sorted(hits)))


def _interests(text: str, categories: Sequence[str]) -> list[str]:
    t = normalize(text)
    hits = []
    for cat in categories:
        for w in (cat, *INTEREST_SYNONYMS.get(cat, ())):
            if len(w) >= 2 and w in t:
                hits.append((t.find(w), cat))
    return list(dict.fromkeys(cat for _, cat in sorted(hits)))


def _volume(text: str) -> tuple[int, int | None] | None:
    t = normalize(PHONE_IN_TEXT.sub(" ", text))
    m = AMOUNT.search(t) or AMOUNT_AFTER_VERB.search(t)
    if not m:
        return None
    value = parse_volume(m.group(1))
    return value if isinstance(value, tuple) else None


def extract_card(text: str, categories: Sequence[str]) -> dict[str, Any]:
    """The card fields one message answers, as {field key: value}."""
    found: dict[str, Any] = {}
    if m := NAME_IN_TEXT.search(text.strip()):
        found["display_name"] = m.group(1)
    phone = find_phone(text)
    # "手机13812345678" names no 数码 interest, "微信号abc" no 微信 channel.
    text = without_contacts(text)
    if business_type := _business_type(text):
        found["business_type"] = business_type
    if channels := _channels(text):
        found["channels"] = channels
    if interests := _interests(text, categories):
        found["interests"] = interests
    if volume := _volume(text):
        found["volume"] = list(volume)
    place = resolve_region(PHONE_IN_TEXT.sub(" ", text), strict=True)
    if place is not None and place.city is not None:
        found["region"] = [place.province, place.city]
    if phone:
        found["phone"] = phone
    return found
