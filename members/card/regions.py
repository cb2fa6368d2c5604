"""Where a buyer is: province and prefecture-level city, recognised in what they type.

The list ships in ``members/data/regions.json`` (every province-level division with its
prefecture-level cities and the county-level cities under them, from the GB/T 2260 codes), so
nothing is fetched at run time. "义乌" is a county-level city: it resolves to 浙江省 金华市, the
level segments filter on. This module does not guess regions from phone numbers or IPs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.dialog.forms.fields import Invalid
from bot.dialog.routing import normalize

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "regions.json"
# Divisions that are their own city: the province answer is complete.
SINGLE_CITY = ("北京市", "天津市", "上海市", "重庆市", "香港特别行政区", "澳门特别行政区", "台湾省")
# Wholesale towns and markets buyers name instead of their city.
MARKETS = {"虎门": ("广东省", "东莞市"), "十三行": ("广东省", "广州市"), "沙河": ("广东省", "广州市"),
           "白马": ("广东省", "广州市"), "织里": ("浙江省", "湖州市"), "濮院": ("浙江省", "嘉兴市"),
           "四季青": ("浙江省", "杭州市"), "白沟": ("河北省", "保定市"), "七浦路": ("上海市", "上海市"),
           "华强北": ("广东省", "深圳市"), "大朗": ("广东省", "东莞市"), "常熟": ("江苏省", "苏州市")}  # fmt: skip
# Suffixes people leave out; ethnic names inside autonomous prefectures people also leave out.
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "地区", "林区", "省", "市", "盟", "县")
ETHNIC = ("壮族", "回族", "维吾尔", "朝鲜族", "土家族", "苗族", "侗族", "布依族", "彝族", "哈尼族",
          "傣族", "白族", "景颇族", "傈僳族", "藏族", "羌族", "蒙古族", "蒙古", "哈萨克", "柯尔克孜",
          "黎族")  # fmt: skip
# Short names that are also everyday words; the one-sentence extractor skips them.
COMMON_WORDS = frozenset({"东方", "中山", "朝阳", "白沙", "海东", "海西", "海北", "黄南", "三沙",
                          "阿里", "通化", "吉安", "永安", "长治", "安康", "大同", "和田"})  # fmt: skip


@dataclass(frozen=True)
class Place:
    province: str
    city: str | None  # None: only the province was named


@dataclass(frozen=True)
class Gazetteer:
    names: dict[str, list[Place]]  # alias → places it may mean (provinces have city=None)
    longest: int  # characters in the longest alias


def short_name(name: str) -> str:
    """广东省 → 广东, 延边朝鲜族自治州 → 延边, 内蒙古自治区 → 内蒙古."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            name = name[: -len(suffix)]
            break
    changed = True
    while changed:
        changed = False
        for e in ETHNIC:
            if name.endswith(e) and len(name) - len(e) >= 2:
                name, changed = name[: -len(e)], True
    return name


@cache
def gazetteer() -> Gazetteer:
    """The alias table, built once from the shipped list."""
    data = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    names: dict[str, list[Place]] = {}

    def add(alias: str, place: Place) -> None:
        if len(alias) >= 2 and place not in names.setdefault(alias, []):
            names[alias].append(place)

    for prov in data["provinces"]:
        pname = prov["name"]
        whole = Place(pname, pname if pname in SINGLE_CITY else None)
        for alias in (pname, short_name(pname)):
            add(alias, whole)
        if pname == "内蒙古自治区":
            add("内蒙", whole)
        for city in prov["cities"]:
            place = Place(pname, city["name"])
            for alias in (city["name"], short_name(city["name"])):
                add(alias, place)
            for county in city.get("counties", []):
                for alias in (county, short_name(county)):
                    add(alias, place)
    for alias, (pname, cname) in MARKETS.items():
        add(alias, Place(pname, cname))
    return Gazetteer(names, max(map(len, names)))


def find_places(text: str, *, strict: bool = False) -> list[tuple[str, list[Place]]]:
    """Every place name in `text`, in order, as (alias, candidate places); longest match wins.

    A scan of dictionary lookups rather than one regular expression of ~1,500 alternatives,
    which Python's engine tries one by one at every position (milliseconds per message)."""
    g = gazetteer()
    t = normalize(text)
    found = []
    i = 0
    while i < len(t) - 1:
        for length in range(min(g.longest, len(t) - i), 1, -1):
            alias = t[i : i + length]
            if alias in g.names:
                if not (strict and alias in COMMON_WORDS):
                    found.append((alias, g.names[alias]))
                i += length
                break
        else:
            i += 1
    return found


def resolve_region(text: str, *, strict: bool = False) -> Place | None:
    """The one place `text` names: a city (with its province) or only a province."""
    province: str | None = None
    city: Place | None = None
    for _alias, places in find_places(text, strict=strict):
        provinces = [p for p in places if p.city is None or p.city == p.province]
        cities = [p for p in places if p.city is not None]
        if provinces and province is None and city is None:
            # "吉林" is a province and a city: the first mention means the province.
            province = provinces[0].province
            if provinces[0].city is not None:  # a municipality is a city too
                city = provinces[0]
            continue
        matching = [p for p in cities if province is None or p.province == province]
        if matching and (city is None or city.city == city.province):
            city = matching[0]
    if city is not None:
        return city
    if province is not None:
        return Place(province, None)
    return None


def parse_region(text: str) -> Place | Invalid:
    """Province and city; a province alone asks for the city (municipalities are complete)."""
    place = resolve_region(text)
    if place is None:
        return Invalid("region")
    if place.city is None:
        return Invalid("region_city")
    return place
