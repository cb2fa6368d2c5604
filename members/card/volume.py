"""Monthly purchase volume as buyers type it: 5万, 50000, 5w, 五万, 3-5万, 十几万, 50k, 一万五.

Returns ``(min, max)`` in yuan — equal for a single figure, ``max=None`` for "10万以上".
Chinese numerals are read here by a small reader (digits, 十/百/千/万 and the colloquial
"一万五" = 15000), enough for amounts people say aloud; it is not a general cn2an.
"""

from __future__ import annotations

import re

from bot.dialog.forms.fields import Invalid
from bot.dialog.routing import normalize

Volume = tuple[int, int | None]

MAX_VOLUME = 1_000_000_000  # beyond ¥10亿 a month it is a typo, not a buyer
DIGITS = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4,
          "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
UNITS = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000, "百": 100, "亿": 100_000_000}
CN_NUM = "[零〇一幺二两俩三四五六七八九十百千]"
NUMBER = rf"(?:\d+(?:\.\d+)?|{CN_NUM}+)"
UNIT = r"(?:万|w|千|k|百|亿)"
# Words around the figure that carry no meaning for the amount.
NOISE = re.compile(
    r"(每个?月|一个月|月均|平均|大概|大约|差不多|估计|目测|拿货|进货|采购|订货|要货|货款|"
    r"金额|左右|上下|的样子|样子|的量|人民币|块钱|块|元|rmb|¥|￥|\s|,|，|。|!|！|~$)"
)
RANGE = re.compile(rf"^({NUMBER})({UNIT})?(?:-|~|–|—|到|至)({NUMBER})({UNIT})?$")
SINGLE = re.compile(rf"^({NUMBER})({UNIT}?)(多|出头|\+|以上|起|往上|多点|以下|以内|不到)?$")
FEW = re.compile(rf"^(几|十几|几十|{CN_NUM}?十几|几百)({UNIT})$")


def chinese_number(text: str) -> float | None:
    """Read a number written in digits or Chinese numerals (一万五 = 15000); None if not one."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or any(ch not in DIGITS and ch not in SMALL_UNITS and ch != "万" for ch in text):
        return None
    total, section, digit = 0, 0, None
    last_unit = 1
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in SMALL_UNITS:
            unit = SMALL_UNITS[ch]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:  # 万
            section += digit or 0
            total += section * 10_000
            section, digit, last_unit = 0, None, 10_000
    if digit is not None:
        # "一万五" / "三千五": a trailing digit is one step below the last unit.
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return float(total + section)


def _scaled(number: str, unit: str | None) -> int | None:
    value = chinese_number(number)
    if value is None:
        return None
    return int(round(value * UNITS.get(unit or "", 1)))


def parse_volume(text: str) -> Volume | Invalid:
    """A monthly purchase volume in yuan, as (min, max); Invalid("volume") if unreadable."""
    t = NOISE.sub("", normalize(text)).replace("万元", "万").replace("千元", "千")
    t = t.replace("多万", "万多")
    if not t:
        return Invalid("volume")
    if m := FEW.match(t):
        unit = UNITS[m.group(2)]
        few = m.group(1)
        if few == "几":
            low, high = 2, 9
        elif few == "几十":
            low, high = 20, 90
        elif few == "几百":
            low, high = 200, 900
        else:  # 十几 / 二十几
            tens = chinese_number(few[:-1]) or 10
            low, high = int(tens) + 1, int(tens) + 9
        return _checked(low * unit, high * unit)
    if m := RANGE.match(t):
        # "3-5万": the unit written once applies to both ends.
        unit_low, unit_high = m.group(2) or m.group(4), m.group(4) or m.group(2)
        low, high = _scaled(m.group(1), unit_low), _scaled(m.group(3), unit_high)
        if low is None or high is None:
            return Invalid("volume")
        if low > high:
            low, high = high, low
        return _checked(low, high)
    # "三五万" — two adjacent digits mean a range, as people say it.
    if m := re.fullmatch(rf"([一二两三四五六七八九])([二三四五六七八九])({UNIT})", t):
        low, high = DIGITS[m.group(1)], DIGITS[m.group(2)]
        if high > low:
            return _checked(low * UNITS[m.group(3)], high * UNITS[m.group(3)])
    if re.fullmatch(r"[零〇一幺二两俩三四五六七八九十百千万]+", t):
        value = chinese_number(t)
        return Invalid("volume") if value is None else _checked(int(value), int(value))
    if m := SINGLE.match(t):
        value = _scaled(m.group(1), m.group(2) or None)
        if value is None:
            return Invalid("volume")
        tail = m.group(3)
        if tail in ("+", "以上", "起", "往上"):
            return _checked(value, None)
        if tail in ("以下", "以内", "不到"):
            return _checked(0, value)
        return _checked(value, value)
    if m := re.fullmatch(rf"(?:不到|少于|低于)({NUMBER})({UNIT}?)", t):
        value = _scaled(m.group(1), m.group(2) or None)
        return Invalid("volume") if value is None else _checked(0, value)
    return Invalid("volume")


def _checked(low: int, high: int | None) -> Volume | Invalid:
    if (high if high is not None else low) <= 0:
        return Invalid("volume_zero")
    if low > MAX_VOLUME or (high is not None and high > MAX_VOLUME):
        return Invalid("volume_too_large")
    return (low, high)


def format_volume(low: int | None, high: int | None) -> str:
    """How a stored volume reads back to the buyer: 5万 / 3万–5万 / 10万以上."""

    def amount(v: int) -> str:
        if v >= 10_000 and v % 1000 == 0:
            w = v / 10_000
            return f"{w:g}万"
        return f"{v:,}"

    if low is None and high is None:
        return ""
    if high is None:
        return f"{amount(low or 0)}以上"
    if not low:
        return f"{amount(high)}以下"
    if low == high:
        return amount(low)
    return f"{amount(low)}–{amount(high)}"
