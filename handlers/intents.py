"""What a buyer's free text asks for: natural phrasings of the bot's commands, courtesy, and
requests for a person, matched from one table over normalised text.

Exact keywords (退订, 会员, 直播 …) stay with their handlers' keyword filters; this module
answers the rest: 怎么退订, 不想收到推送, 我是什么会员, 下次直播什么时候, 我想改一下名片,
谢谢👍, 转人工. A handler declares it with a filter, like any other::

    @router.text(intent("tier"))
    async def tier_card(ctx): ...

How a message is matched, cheapest first, at most once per message (the result is kept on
``ctx.notes`` and the text's analysis in an LRU cache):

1. The text is normalised (``bot.dialog.routing.normalize``) and stripped of punctuation and
   spaces; whole-message rules (greetings) also drop trailing particles (吗 呢 啊 吧 …).
2. Greetings (the table's ``whole`` rules: 你好, 在不在) answer with help; then courtesy:
   a message made only of thanks/acknowledgement/goodbye words, forms of address (老板, 亲)
   and emoji (including WeChat's ``[强]``-style emoji) is ``courtesy`` with its kind
   (thanks, toil, bye, ack).
3. ``RULES`` is tried in order; a rule matches when one of its phrases occurs in the text
   and none of its ``unless`` phrases does. The ``unless`` lists carry the refusals:
   不要退订 / 别退订 are no opt-out, 退订单 is about an order. A phrasing that may mean an
   opt-out but is not plain (消息太多了, 别烦我) is ``opt_out_unsure``: the handler asks
   for confirmation instead of acting.
4. Close misspellings of a command keyword, for short messages outside a dialog only: a
   pinyin keyboard's typos are homophones (退定, 会圆, 直拨, 名判), so the text is compared
   with the keywords by their toneless pinyin, exactly or within a small edit distance
   (rapidfuzz). A near miss of 退订 is never acted on: it is ``opt_out_unsure``.

Why these libraries: rapidfuzz (maintained, C++ core, ~4 MB) scores near misses in
microseconds; on pinyin it also catches the homophone typos that no character-level ratio
can see in two-character words. The pinyin comes from ``handlers/data/pinyin.json`` (the 3,755
common characters by syllable, 16 KB), generated with pypinyin by
``scripts/pinyin_table.py``: pypinyin itself, loaded in the server, cost ~60 MB of RSS per
process, which the webhook's idle-memory budget cannot spare. jieba was considered and not
used: the phrases are matched as substrings of short messages, so word segmentation adds
nothing but a second of start-up, tens of megabytes and a library without a release since
2020.

Inside a dialog (a card question waiting for an answer) a phrasing counts only when the
text asks something (吗, 什么, 怎么, ？ …) or its rule is marked ``anywhere`` (opt-out and the
card's own commands), and never a fuzzy guess: an answer such as the company name 开播电商
is not taken as a command. Exact keywords work everywhere, as before.

This module decides nothing about what to answer and touches no database: the handlers
(optout, membership, live, card, help, smalltalk, handoff, shipping) do. FAQ answers come from the
configuration and are matched in ``handlers/faq.py``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from bot.dialog.routing import TEXT_TYPES, Filter, normalize

if TYPE_CHECKING:
    from bot.dialog.context import Context


@dataclass(frozen=True)
class Intent:
    name: str  # opt_out, opt_out_unsure, opt_in, tier, live, rsvp, card, shipping, …
    kind: str = ""  # courtesy: thanks / ack / toil / bye


@dataclass(frozen=True)
class Rule:
    intent: str
    phrases: tuple[str, ...]
    unless: tuple[str, ...] = ()
    whole: bool = False  # a phrase must be the whole (cleaned) message: greetings
    anywhere: bool = False  # also inside a dialog when the text is no question

    def matches(self, cleaned: str) -> bool:
        if self.whole:
            return cleaned in self.phrases
        return any(p in cleaned for p in self.phrases) and not any(
            u in cleaned for u in self.unless
        )


# Not wanting something said about opt-out itself, or 退订 inside another word.
_NOT_OPT_OUT = ("不要退订", "别退订", "不想退订", "不退订", "不用退订", "没退订", "不是退订",
                "退订单", "订单", "取消退订", "恢复", "重新订阅", "误点", "点错")  # fmt: skip
# Inside a dialog, a phrasing counts only when the text asks something (or the rule is
# `anywhere`): "开播电商" answering the company question is a name, not the live command.
QUESTION = re.compile(r"[?？]|吗|么|什么|怎么|怎样|几|多少|哪|啥|是不是|有没有|能不能|可不可以")

# Tried in order: the first rule that matches wins (refusals are in `unless`).
RULES: tuple[Rule, ...] = (
    Rule("delete_card", ("删除我的", "删掉我的", "清除我的", "注销我的", "删除资料", "删除名片",
                         "删掉资料", "删了我的"), ("不要删", "别删", "不删"), anywhere=True),
    Rule("opt_out", ("退订", "取消推送", "取消订阅", "关闭推送", "关掉推送", "停止推送",
                     "不想收到推送", "不想收推送", "不要推送", "别推送", "别再推送", "不要再推送",
                     "不要给我推送", "不要发广告", "别发广告", "不想收到广告", "不要再发消息",
                     "拒收", "屏蔽推送", "不需要推送"), _NOT_OPT_OUT, anywhere=True),
    Rule("opt_out_unsure", ("消息太多", "推送太多", "发太多", "天天发", "老是发", "总是发",
                            "一直发", "好烦", "太烦", "别烦我", "骚扰", "打扰到我", "别发了",
                            "不要发了", "别再发了", "不想收到消息", "少发点"), _NOT_OPT_OUT,
         anywhere=True),
    Rule("opt_in", ("恢复推送", "重新订阅", "恢复订阅", "继续推送", "打开推送", "开启推送",
                    "想收到推送", "我要订阅", "帮我订阅", "怎么订阅", "接收推送"),
         ("不想", "不要", "别")),
    # 老板 alone is how buyers address the supplier ("老板，有新款吗"): no request for a person.
    Rule("person", ("人工", "客服", "真人", "找老板", "老板在", "叫老板", "联系老板", "老板呢",
                    "找负责人", "找你们负责人", "负责人在", "店主在", "掌柜的在", "掌柜在", "有人吗",
                    "有人在吗", "在吗", "找人", "业务员", "工作人员", "联系你们", "打电话给我",
                    "给我回电话", "电话联系")),
    # Where the buyer's own order is; how shipping works in general is the FAQ's.
    Rule("shipping", ("发货了吗", "发货了没", "发货没", "发了吗", "发了没", "发出了吗", "还没发货",
                      "到哪了", "到哪里了", "到哪儿了", "物流", "单号", "查快递", "快递到",
                      "我的订单", "订单状态"),
         ("运费", "包邮", "几天", "多久", "哪家", "什么快递", "用什么", "默认")),
    Rule("edit_card", ("改名片", "改一下名片", "改下名片", "换个名片", "换名片", "更新名片",
                       "修改名片", "名片写错", "名片填错", "名片有误", "名片不对", "改资料",
                       "修改资料", "改下资料", "改一下资料", "更新资料", "资料写错", "资料填错",
                       "资料有误", "改手机号",
                       "换手机号", "改电话", "换电话", "改称呼", "改地址", "改店名"), ("交换名片",), anywhere=True),
    Rule("show_card", ("我的名片", "看名片", "看下名片", "看看名片", "看一下名片", "看看我的名片",
                       "查看名片", "名片信息", "我填的资料", "看看我的资料", "查看资料",
                       "看下我的资料"), anywhere=True),
    Rule("card", ("交换名片", "填名片", "填个名片", "留个名片", "留名片", "发名片", "递名片",
                  "加个名片", "填资料", "留资料", "登记信息", "登记一下", "填写名片",
                  "怎么交换名片", "换个联系方式")),
    Rule("rsvp", ("预约直播", "预约一下", "我要预约", "帮我预约", "怎么预约", "开播提醒",
                  "开播叫我", "开播通知", "直播提醒", "提醒我看直播", "直播了叫我", "直播了提醒",
                  "开始了提醒我", "开播了告诉我", "开播告诉我"), ("不要", "取消预约")),
    Rule("live", ("下次直播", "下一次直播", "下一场直播", "下场直播", "直播什么时候", "什么时候直播",
                  "几点直播", "直播几点", "有直播吗", "有没有直播", "今天直播", "今晚直播",
                  "明天直播", "还直播", "直播预告", "直播时间", "在直播", "直播间", "开播",
                  "直播链接", "看直播", "直播吗")),
    Rule("tier", ("什么会员", "会员等级", "我的等级", "几级会员", "什么等级", "哪个等级", "哪一级",
                  "几级", "会员权益", "我的权益", "有什么权益", "什么权益", "什么优惠", "会员有什么",
                  "怎么升级", "升级会员", "还差多少", "我是会员", "是不是会员", "我的会员", "查会员", "查一下会员", "查下会员", "查一下等级",
                  "查等级", "会员卡", "金卡", "银卡", "钻石会员", "vip")),
    Rule("help", ("你能做什么", "能做什么", "能干什么", "能干嘛", "有什么功能", "怎么用",
                  "怎么使用", "使用说明", "功能菜单", "帮助", "菜单")),
    Rule("help", ("你好", "您好", "你好呀", "哈喽", "嗨", "hello", "hi", "早", "早上好", "上午好",
                  "中午好", "下午好", "晚上好", "在不在", "你好老板", "老板好", "亲在吗"), whole=True),
)  # fmt: skip

# Courtesy: a message made only of these (and emoji) gets a short human answer.
_COURTESY_WORDS = {
    "thanks": ("谢谢", "谢啦", "谢了", "多谢", "感谢", "感恩", "thanks", "thank you", "thx", "3q"),
    "toil": ("辛苦了", "辛苦啦", "辛苦", "麻烦了", "麻烦你了", "麻烦您了"),
    "bye": ("再见", "拜拜", "拜", "bye", "回头见", "晚安"),
    "ack": ("好的", "好滴", "好嘞", "好吧", "好", "收到", "知道了", "知道啦", "明白了", "明白",
            "了解了", "了解", "ok", "okay", "嗯嗯", "嗯", "哦哦", "哦", "噢", "行", "可以",
            "没问题", "没事", "没关系", "赞", "棒", "厉害", "不错", "哈哈哈", "哈哈", "呵呵"),
}  # fmt: skip
_FILLERS = ("老板", "亲爱的", "亲", "你", "您", "啦", "了", "呀", "哈", "哦", "的", "哒", "呢", "啊",
            "呐", "们", "非常", "太", "很", "真的", "好多", "多")  # fmt: skip
# Emoji that carry thanks (🙏 [抱拳]); any other emoji reads as a friendly acknowledgement.
_THANKS_EMOJI = ("🙏", "[抱拳]", "[合十]", "[感谢]", "[谢谢]")
WECHAT_EMOJI = re.compile(r"\[[\u4e00-\u9fffa-z]{1,4}\]")
_PUNCT = re.compile(r"[\s,，。.!！?？~～、;；:：…\"'“”‘’()（）]+")
_PARTICLES = re.compile(r"(吗|嘛|呢|啊|呀|吧|哈|啦|么|哦|捏)+$")

# Exact command keywords a near miss is compared with (pinyin), and what they mean.
FUZZY_WORDS = {
    "退订": "opt_out_unsure", "订阅": "opt_in", "会员": "tier", "等级": "tier", "权益": "tier",
    "我的等级": "tier", "直播": "live", "预约": "rsvp", "名片": "card", "交换名片": "card",
    "我的名片": "show_card", "修改名片": "edit_card", "帮助": "help",
}  # fmt: skip
FUZZY_MAX_CHARS = 6  # longer messages are sentences: the table, not a guess, must match them
FUZZY_CUTOFF = 88.0  # "mingpan" ~ "mingpian" (93); "huiying" !~ "huiyuan" (86)


PINYIN_FILE = Path(__file__).resolve().parent / "data" / "pinyin.json"
_SYLLABLE = {
    ch: syllable
    for syllable, chars in json.loads(PINYIN_FILE.read_text(encoding="utf-8")).items()
    for ch in chars
}


def _pinyin(text: str) -> str:
    """Toneless pinyin of the common characters in `text` (a rare one stays as it is)."""
    return "".join(_SYLLABLE.get(ch, ch) for ch in text)


_FUZZY_PINYIN = {_pinyin(word): meaning for word, meaning in FUZZY_WORDS.items()}
FUZZY_CHOICES = list(_FUZZY_PINYIN)


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Mn", "Cf") or ch in "\u200d\ufe0f"


def _courtesy(text: str) -> str | None:
    """The kind of courtesy when `text` is nothing but courtesy words and emoji."""
    t = normalize(text)
    found: list[str] = []
    if any(e in t for e in _THANKS_EMOJI):
        found.append("thanks")
    had_emoji = bool(WECHAT_EMOJI.search(t)) or any(_is_emoji(ch) for ch in t)
    t = WECHAT_EMOJI.sub("", t)
    t = "".join(ch for ch in t if not _is_emoji(ch))
    t = _PUNCT.sub("", t)
    for kind, words in _COURTESY_WORDS.items():
        for word in sorted(words, key=len, reverse=True):
            if word in t:
                found.append(kind)
                t = t.replace(word, "")
    for filler in _FILLERS:
        t = t.replace(filler, "")
    if t or not (found or had_emoji):
        return None
    for kind in ("thanks", "toil", "bye"):
        if kind in found:
            return kind
    return "ack"


def _fuzzy(cleaned: str) -> str | None:
    if not cleaned or len(cleaned) > FUZZY_MAX_CHARS or cleaned in FUZZY_WORDS:
        return None  # an exact keyword is its handler's, not a guess
    if not all("\u4e00" <= ch <= "\u9fff" for ch in cleaned):
        return None
    spelled = _pinyin(cleaned)
    if spelled in _FUZZY_PINYIN:
        return _FUZZY_PINYIN[spelled]
    best = process.extractOne(spelled, FUZZY_CHOICES, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return _FUZZY_PINYIN[best[0]] if best else None


@lru_cache(maxsize=4096)
def match(text: str, in_dialog: bool = False) -> Intent | None:
    """What `text` asks for, or None (see the module docstring for the order of the checks)."""
    bare = _PUNCT.sub("", normalize(text))  # phrases are looked for in this
    short = _PARTICLES.sub("", bare) or bare  # whole-message rules compare this
    asks = not in_dialog or QUESTION.search(text) is not None
    for rule in RULES:  # greetings first: 你好 is not an acknowledgement
        if rule.whole and (asks or rule.anywhere) and rule.matches(short):
            return Intent(rule.intent)
    kind = _courtesy(text)  # before the phrases: "好的谢谢老板" thanks, it asks for no one
    if kind:
        return Intent("courtesy", kind)
    for rule in RULES:
        if not rule.whole and (asks or rule.anywhere) and rule.matches(bare):
            return Intent(rule.intent)
    if in_dialog:
        return None
    meaning = _fuzzy(short)
    return Intent(meaning) if meaning else None


def intent_of(ctx: Context) -> Intent | None:
    """The message's intent, worked out once per message."""
    in_dialog = ctx.dialog_state is not None  # a handler may end the dialog meanwhile
    key = "intent:dialog" if in_dialog else "intent"
    if key not in ctx.notes:
        ctx.notes[key] = match(ctx.text, in_dialog) if ctx.text is not None else None
    return ctx.notes[key]


def intent(*names: str) -> Filter:
    """Filter: the text asks for one of `names` (see ``RULES``)."""
    wanted = frozenset(names)

    def check(ctx: Context) -> bool:
        found = intent_of(ctx)
        return found is not None and found.name in wanted

    check.types = TEXT_TYPES  # type: ignore[attr-defined]
    check.words = None  # type: ignore[attr-defined]
    return check
