"""The words a segment may use for a field's values, and which values exist at all.

Operators type short or familiar names (广东, 淘宝, 男士); the card stores full or canonical
ones (广东省, ``taobao``, 男装). This module maps the one onto the other for
``scheduler/segments.py``, and, given a ``Vocabulary`` (the configured tiers and interests),
says when a value is one no buyer can have, naming the allowed ones. Channels are open: the
card keeps a channel it does not know as the buyer wrote it, so any channel is accepted.

It builds no SQL and reads no database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from bot.dialog.routing import normalize
from members.card.choices import BUSINESS_TYPES, INTEREST_SYNONYMS


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def places_named(name: str) -> list[Any]:
    from members.card.regions import gazetteer  # the card's list of provinces and cities

    return gazetteer().names.get(normalize(name), [])


def province_spellings(name: str) -> set[str]:
    """广东 → {广东, 广东省}: the card stores full names; operators type short ones."""
    found = places_named(name)
    return {name} | {p.province for p in found if p.city in (None, p.province)}


def city_spellings(name: str) -> set[str]:
    """广州 → {广州, 广州市}."""
    return {name} | {p.city for p in places_named(name) if p.city}


def business_type_key(word: str) -> str:
    """taobao, 淘宝 or 淘宝/天猫等网店 → taobao (the key the card stores); else as typed."""
    return _BUSINESS_WORDS.get(normalize(word), word)


_BUSINESS_WORDS = {
    normalize(w): key for key, (label, ws) in BUSINESS_TYPES.items() for w in (key, label, *ws)
}


def canonical_words(table: dict[str, tuple[str, ...]]) -> Callable[[str], str]:
    """A word → the name the card stores for it (线下 → 线下门店); unknown words stay as typed."""
    words = {normalize(w): key for key, ws in table.items() for w in (key, *ws)}
    return lambda v: words.get(normalize(v), v)


@dataclass(frozen=True)
class Vocabulary:
    """The values of enumerated fields that come from configuration."""

    tiers: tuple[str, ...]  # the tier ladder's keys
    interests: tuple[str, ...]  # [card] interest_categories
    tier_names: tuple[tuple[str, str], ...] = ()  # (key, name) of each tier

    @classmethod
    def from_config(cls, config: Any, tiers: Any = None) -> Vocabulary:
        """From the configuration; `tiers` (a ``TiersConfig``) replaces ``config.tiers``,
        for the ladder an admin saved in the console (``members.tiers.current_tiers``)."""
        levels = (tiers or config.tiers).levels
        return cls(
            tuple(level.key for level in levels),
            tuple(config.card.interest_categories),
            tuple((level.key, level.name) for level in levels),
        )

    def tier_key(self, word: str) -> str | None:
        """金卡会员, gold or GOLD → gold; None when no tier has that key or name."""
        wanted = normalize(word)
        for key, name in self.tier_names or ((k, k) for k in self.tiers):
            if wanted in (normalize(key), normalize(name)):
                return key
        return None


def _provinces() -> list[str]:
    from members.card.regions import gazetteer

    return sorted({p.province for places in gazetteer().names.values() for p in places})


def unknown(name: str, value: Any, known: Vocabulary) -> str | None:
    """The problem with a value no buyer can have in field `name`, or None."""
    allowed: Collection[str]
    if name == "tier":
        for v in as_list(value):
            if str(v) not in known.tiers:
                named = ", ".join(f"{k} ({n})" for k, n in known.tier_names) or ", ".join(
                    known.tiers
                )
                return f"unknown tier {v!r}; allowed keys: {named or 'none (no tier configured)'}"
        return None
    if name == "interests":
        allowed, canonical = known.interests, canonical_words(INTEREST_SYNONYMS)
    elif name in ("province", "city", "region"):
        for v in as_list(value):
            if not places_named(v):
                return (
                    f"unknown place {v!r}; name a province or city (广东, 广州 …); "
                    f"provinces: {', '.join(_provinces())}"
                )
        return None
    else:
        return None
    for v in as_list(value):
        if canonical(v) not in allowed:
            listed = ", ".join(allowed) or f"none (no {name} configured)"
            return f"unknown {name} {v!r}; allowed: {listed}"
    return None
