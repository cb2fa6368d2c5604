"""Choices on the card: business type (one of six), sales channels and product interests (several).

Buyers answer with a number from the list, a word, a synonym or a near miss typed through a
pinyin keyboard (陶宝, 淘保, 跨镜). Near misses are caught by folding common homophones to one
character before comparing, then by difflib's ratio for the rest; short inputs must match
closely so "好" never becomes a business type. Free text with several fields in it is the
extractor's job (``members/card/extract.py``), not this module's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import cache

from bot.dialog.forms.fields import Invalid
from bot.dialog.routing import normalize

# key → (label shown to buyers, words that mean it). Keys are stored; labels are shown.
BUSINESS_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "taobao": (
        "淘宝/天猫等网店",
        (
            "淘宝",
            "天猫",
            "淘宝店",
            "天猫店",
            "淘宝店铺",
            "淘系",
            "tb",
            "taobao",
            "tmall",
            "c店",
            "网店",
            "电商",
            "拼多多",
            "pdd",
            "京东",
            "网上开店",
        ),
    ),
    "social": (
        "微商/社交电商",
        (
            "微商",
            "社交电商",
            "抖音",
            "快手",
            "小红书",
            "视频号",
            "直播",
            "直播带货",
            "朋友圈",
            "微信",
            "团购",
            "社群",
            "带货",
            "主播",
            "douyin",
            "wechat",
        ),
    ),
    "cross_border": (
        "跨境电商",
        (
            "跨境",
            "跨境电商",
            "亚马逊",
            "amazon",
            "shopee",
            "虾皮",
            "lazada",
            "速卖通",
            "tiktok",
            "temu",
            "shein",
            "外贸",
            "ebay",
            "独立站",
            "wish",
        ),
    ),
    "store": (
        "实体店/档口",
        (
            "实体店",
            "档口",
            "门店",
            "店面",
            "实体",
            "线下",
            "专卖店",
            "商场",
            "摊位",
            "门市",
            "服装店",
            "小店",
            "开店",
            "铺子",
            "超市",
        ),
    ),
    "wholesale": (
        "批发/贸易商",
        (
            "批发",
            "贸易商",
            "贸易",
            "批发商",
            "代理",
            "经销商",
            "经销",
            "分销",
            "二批",
            "批发市场",
            "工厂",
            "供应链",
            "采购商",
        ),
    ),
    "other": ("其他", ("其他", "其它", "别的", "都不是", "个人", "other")),
}

# Channels are open-ended: known names are normalised, anything else reasonable is kept.
CHANNELS: dict[str, tuple[str, ...]] = {
    "淘宝": ("淘宝", "taobao", "tb", "淘宝店"),
    "天猫": ("天猫", "tmall"),
    "拼多多": ("拼多多", "pdd", "拼夕夕"),
    "京东": ("京东", "jd"),
    "抖音": ("抖音", "douyin", "抖店", "抖音小店"),
    "快手": ("快手", "kuaishou"),
    "小红书": ("小红书", "红书", "xhs"),
    "微信": ("微信", "朋友圈", "微商", "社群", "wechat", "私域"),
    "视频号": ("视频号",),
    "1688": ("1688", "阿里巴巴"),
    "闲鱼": ("闲鱼",),
    "唯品会": ("唯品会",),
    "亚马逊": ("亚马逊", "amazon"),
    "Shopee": ("shopee", "虾皮"),
    "TikTok": ("tiktok",),
    "速卖通": ("速卖通", "aliexpress"),
    "线下门店": ("线下", "门店", "实体店", "档口", "店里", "实体"),
    "批发市场": ("批发市场", "市场"),
}

# Product words → category (only categories present in the configuration are used).
INTEREST_SYNONYMS: dict[str, tuple[str, ...]] = {
    "女装": (
        "女装",
        "女士",
        "女款",
        "连衣裙",
        "裙子",
        "裙",
        "女式",
        "女上衣",
        "半身裙",
        "旗袍",
        "女裤",
        "卫衣",
        "毛衣",
        "大码女装",
        "孕妇装",
        "内衣",
        "睡衣",
    ),
    "男装": ("男装", "男士", "男款", "西装", "衬衫", "夹克", "男裤", "polo"),
    "童装": ("童装", "儿童", "宝宝", "婴儿", "母婴", "小孩", "孩子", "儿童服装", "童"),
    "鞋靴": (
        "鞋靴",
        "鞋",
        "鞋子",
        "靴子",
        "运动鞋",
        "皮鞋",
        "拖鞋",
        "凉鞋",
        "童鞋",
        "女鞋",
        "男鞋",
    ),
    "箱包": ("箱包", "包包", "包", "行李箱", "背包", "钱包", "手提包", "拉杆箱", "书包"),
    "饰品": ("饰品", "首饰", "耳环", "项链", "手链", "发饰", "饰物", "配饰", "戒指", "珠宝"),
    "美妆": ("美妆", "化妆品", "护肤", "护肤品", "彩妆", "口红", "面膜", "个护", "香水"),
    "家居": (
        "家居",
        "家纺",
        "家具",
        "床品",
        "日用",
        "百货",
        "日用百货",
        "厨具",
        "收纳",
        "家居用品",
    ),
    "食品": ("食品", "零食", "食物", "吃的", "特产", "茶叶", "酒", "饮料", "生鲜", "水果"),
    "数码": ("数码", "电子", "手机", "耳机", "配件", "手机配件", "电器", "3c", "电脑", "数码产品"),
}
ALL_WORDS = ("全部", "都要", "都可以", "都有", "都感兴趣", "全品类", "所有", "都行")

# Characters a pinyin keyboard mixes up in these words, folded to one spelling each.
HOMOPHONES = {
    "陶": "淘",
    "涛": "淘",
    "掏": "淘",
    "桃": "淘",
    "逃": "淘",
    "保": "宝",
    "包": "宝",
    "饱": "宝",
    "堡": "宝",
    "报": "宝",
    "毛": "猫",
    "锚": "猫",
    "茂": "猫",
    "伤": "商",
    "尚": "商",
    "上": "商",
    "啇": "商",
    "镜": "境",
    "竟": "境",
    "径": "境",
    "静": "境",
    "当": "档",
    "挡": "档",
    "党": "档",
    "匹": "批",
    "披": "批",
    "皮": "批",
    "罚": "发",
    "法": "发",
    "伐": "发",
    "失": "实",
    "十": "实",
    "石": "实",
    "时": "实",
    "体": "体",
    "题": "体",
    "点": "店",
    "电": "店",
    "殿": "店",
    "卫": "微",
    "为": "微",
    "维": "微",
    "威": "微",
    "亚": "亚",
    "压": "亚",
    "鸭": "亚",
    "马": "马",
    "码": "马",
    "妈": "马",
    "逊": "逊",
    "训": "逊",
    "迅": "逊",
    "抖": "抖",
    "斗": "抖",
    "豆": "抖",
    "音": "音",
    "因": "音",
    "阴": "音",
    "贸": "贸",
    "帽": "贸",
    "冒": "贸",
    "易": "易",
    "意": "易",
    "义": "易",
}
SPLIT = re.compile(r"[,，、/／;；\s。.+&|]+|和|跟|及|以及|还有|或者|或")
NUMBERS = re.compile(r"^\d+(?:[,，、\s]+\d+)*$")


def fold(text: str) -> str:
    """Normalise and fold homophones, so near misses compare equal."""
    return "".join(HOMOPHONES.get(ch, ch) for ch in normalize(text))


def _strip_chatter(text: str) -> str:
    t = normalize(text)
    t = re.sub(r"^(我们?|俺|咱)(是|在|做|开|搞|主要做|主要是|主要在|是做|是开)?", "", t)
    t = re.sub(r"(的|啊|呀|吧|哦|呢|嗯|哈)+$", "", t)
    return t.strip(" 。.!！")


@cache
def _folded(table: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, str]]:
    return [(fold(w), key) for key, ws in table for w in ws]


def _best_word(text: str, table: dict[str, tuple[str, ...]], cutoff: float) -> str | None:
    """The key whose word equals, contains or closely resembles `text` (folded)."""
    t = fold(text)
    if not t:
        return None
    words = _folded(tuple(table.items()))
    for w, key in words:
        if t == w:
            return key
    # Longest known word inside the answer ("淘宝小店", "我们做跨境的").
    inside = [(len(w), key) for w, key in words if len(w) >= 2 and w in t]
    if inside:
        return max(inside)[1]
    close = difflib.get_close_matches(t, [w for w, _ in words], n=1, cutoff=cutoff)
    if close:
        return next(key for w, key in words if w == close[0])
    return None


def parse_business_type(text: str) -> str | Invalid:
    """One of BUSINESS_TYPES' keys, by number (1–6), word, synonym or near miss."""
    t = _strip_chatter(text)
    keys = list(BUSINESS_TYPES)
    if re.fullmatch(r"\d+", t):
        n = int(t)
        return keys[n - 1] if 1 <= n <= len(keys) else Invalid("choice_number")
    table = {key: (label, *words) for key, (label, words) in BUSINESS_TYPES.items()}
    key = _best_word(t, table, cutoff=0.75)
    return key if key is not None else Invalid("business_type")


def business_type_label(key: str | None) -> str:
    return BUSINESS_TYPES[key][0] if key in BUSINESS_TYPES else (key or "")


def _is_product_word(part: str) -> bool:
    """`part` names a product (女装, 连衣裙, 鞋子), not a place to sell."""
    t = fold(part)
    return any(
        t == fold(word) or (len(word) >= 2 and fold(word) in t)
        for category, words in INTEREST_SYNONYMS.items()
        for word in (category, *words)
    )


def parse_channels(text: str) -> list[str] | Invalid:
    """Sales channels, several: known names normalised, other short names kept as written."""
    t = _strip_chatter(text)
    t = re.sub(r"^(在|主要在|都在|用)", "", t)
    found: list[str] = []
    for part in SPLIT.split(t):
        part = part.strip()
        trimmed = re.sub(r"^(在|上|用)|(上|里|平台|店|卖)+$", "", part)
        part = trimmed if len(trimmed) >= 2 or len(part) < 2 else part
        if not part:
            continue
        name = _best_word(part, CHANNELS, cutoff=0.8)
        if name is None:
            if re.fullmatch(r"[\d\W_]+", part) or len(part) > 12:
                return Invalid("channels")
            if _is_product_word(part):  # 女装 answers "what", not "where": no channel
                return Invalid("channels_product")
            name = part
        if name not in found:
            found.append(name)
    return found if found else Invalid("channels")


def parse_interests(text: str, categories: Sequence[str]) -> list[str] | Invalid:
    """Product categories (from configuration), several, by number, name or product word."""
    t = _strip_chatter(text)
    t = re.sub(r"^(卖|做|主营|主要卖|主要做|拿|进)", "", t)
    if not t:
        return Invalid("interests")
    if any(w in t for w in ALL_WORDS):
        return list(categories)
    if NUMBERS.match(t):
        nums = [int(n) for n in re.findall(r"\d+", t)]
        if len(nums) == 1 and len(str(nums[0])) > 1 and nums[0] > len(categories):
            nums = [int(d) for d in str(nums[0])]  # "135" typed without separators
        if any(not 1 <= n <= len(categories) for n in nums):
            return Invalid("choice_number")
        return list(dict.fromkeys(categories[n - 1] for n in nums))
    table = {c: (c, *INTEREST_SYNONYMS.get(c, ())) for c in categories}
    found: list[str] = []
    for part in SPLIT.split(t):
        part = re.sub(r"^(卖|做|还有|也做|也卖)|(类|的|等|这些|之类)+$", "", part.strip())
        if not part:
            continue
        for cat in _categories_in(part, table):
            if cat not in found:
                found.append(cat)
    return found if found else Invalid("interests")


def _categories_in(part: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """Every category a phrase names ("女装鞋子" names two)."""
    hits = [c for c, words in table.items() for w in words if len(w) >= 2 and w in part]
    if hits:
        return list(dict.fromkeys(hits))
    exact = [c for c, words in table.items() if part in words]
    if exact:
        return exact[:1]
    best = _best_word(part, table, cutoff=0.8)
    return [best] if best else []
