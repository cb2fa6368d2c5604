"""What the model sees of a message: a bag of string features, the same in training and at
run time.

``features(text)`` returns, over the normalised text (``understanding/normalize.py``):

- character n-grams of 1 to 3 characters, with ``^`` and ``$`` marking the start and end,
  so 早 alone differs from 早 inside 早点发货;
- the toneless pinyin of the Chinese characters as syllables and syllable pairs, so a pinyin
  keyboard's homophone typos (退定, 会圆, 直拨) share features with the words meant;
- Latin words whole (unsubscribe, ok, vip) and WeChat emoji codes (``[强]``);
- a few cues from what the old phrase table did well, as features the model weighs rather
  than rules that decide: a negation right before an opt-out or deletion word (不要退订,
  先别删, 没说要退订), 退订 followed by an order word (退订单, 退订的那批货), a message made
  only of courtesy words and emoji (and which kind), a word of stopping or refusing, a
  question, and the message's length.

Nothing here is learnt or decides anything; the weights of these features are the model's
(``understanding/model.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from understanding.normalize import WECHAT_EMOJI, is_emoji, normalize, pinyin

# A negation right before an opt-out or deletion word: the buyer says *not* to do it.
_NEG_COMMAND = re.compile(
    r"(不|别|没|未|甭|莫|无需|先别)(要|想|用|是|需要|必|说|说要|说过要|让你|给我)?(再)?"
    r"(退订|取消订阅|取消关注|删|注销|取关|免打扰|屏蔽|拉黑)"
)
# Taking back an opt-out or a block: 误点了, 退订撤销, 免打扰关掉吧, 把我加回推送.
_UNDO = re.compile(
    r"误点|点错|按错|误操作|手滑|手快|不小心|后悔|改主意|加回|恢复|重新|"
    r"(关掉|关了|关闭|取消|解除|去掉|撤销|撤回|收回)(免打扰|屏蔽|拉黑|退订)|"
    r"(免打扰|屏蔽|拉黑|退订)(关掉|关了|关闭|取消|解除|去掉|撤销|撤回|错了|不算)|"
    r"可以(推|发)了|(接着|继续|还是)(推|发)|(再|想|重新|回来)订(?!单)|订回"
)
# Every way of asking to stop has a word of stopping or refusing in it: without one (要推送,
# 给我推送), a message is no opt-out whatever it resembles.
_STOPPING = re.compile(
    r"退|停|关(?!注)|取消|别|不|没|免打扰|勿扰|屏蔽|拉黑|拒|够了|烦|太多|少发|唔|咪|莫|甭|勿|"
    r"移出|移除|踢出|td|stop|unsub|no |don|remove|off|quit|cancel|block|mute|enough"
)
# What an opt-out or opt-in is about: pushes, messages, the subscription. 取消 or 继续 alone
# (answers inside the card dialog) are about something else.
_ABOUT_PUSHES = re.compile(
    r"推|发|消息|信息|订|通知|提醒|广告|打扰|活动|骚扰|名单|td|unsub|subscri|push|msg|messag|"
    r"ads|spam|send|notif"
)
# 退订 as part of an order or goods: 退订单, 退订的那批货, 订单退订 (a return, not an opt-out).
_GOODS_AFTER = re.compile(
    r"退订(单|货|的货|的那批|的那|了的货|那批|金|款)|(订单|单子|货|那批)(要)?退订"
)
QUESTION = re.compile(r"\?|吗|么|什么|怎么|怎样|几|多少|哪|啥|是不是|有没有|能不能|可不可以")

# Courtesy: a message made only of these (with forms of address and emoji) is courtesy.
COURTESY_WORDS = {
    "thanks": ("谢谢", "谢啦", "谢了", "多谢", "感谢", "感恩", "thanks", "thank you", "thx",
               "3q", "唔该", "唔该晒", "多谢晒", "tks", "蟹蟹", "xx", "谢"),
    "toil": ("辛苦了", "辛苦啦", "辛苦", "麻烦了", "麻烦你了", "麻烦您了", "受累了"),
    "bye": ("再见", "拜拜", "拜", "bye", "回头见", "晚安", "88", "下次聊"),
    "ack": ("好的", "好滴", "好嘞", "好吧", "好", "收到", "知道了", "知道啦", "明白了", "明白",
            "了解了", "了解", "ok", "okay", "嗯嗯", "嗯", "哦哦", "哦", "噢", "行", "可以",
            "没问题", "没事", "没关系", "赞", "棒", "厉害", "不错", "哈哈", "呵呵", "得嘞",
            "妥", "okk", "get"),
}  # fmt: skip
_FILLERS = ("老板", "亲爱的", "亲", "你", "您", "啦", "了", "呀", "哈", "哦", "的", "哒", "呢",
            "啊", "呐", "们", "非常", "太", "很", "真的", "好多", "多", " ", "!")  # fmt: skip
_THANKS_EMOJI = ("🙏", "[抱拳]", "[合十]", "[感谢]", "[谢谢]")
_WORD = re.compile(r"[a-z][a-z0-9']+|\d+")


def courtesy_kind(text: str) -> str | None:
    """The kind of courtesy (thanks, toil, bye, ack) when the normalised `text` is nothing
    but courtesy words, forms of address and emoji; else None."""
    found: list[str] = []
    if any(e in text for e in _THANKS_EMOJI):
        found.append("thanks")
    had_emoji = bool(WECHAT_EMOJI.search(text)) or any(is_emoji(ch) for ch in text)
    t = WECHAT_EMOJI.sub("", text)
    t = "".join(ch for ch in t if not is_emoji(ch))
    for kind, words in COURTESY_WORDS.items():
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


def without_courtesy(text: str) -> str:
    """The normalised `text` with its courtesy words taken out (TD 谢谢 → td)."""
    for kind in COURTESY_WORDS.values():
        for word in sorted(kind, key=len, reverse=True):
            text = text.replace(word, " ")
    return " ".join(text.split())


def _length_bucket(n: int) -> str:
    if n <= 1:
        return "1"
    if n <= 3:
        return "2-3"
    if n <= 6:
        return "4-6"
    if n <= 12:
        return "7-12"
    return "13+"


def reverses_command(text: str) -> bool:
    """The normalised `text` says not to do, or to undo, an opt-out or deletion (不要退订,
    先别删, 退订点错了, 免打扰关掉吧), or 退订 is about goods (退订单): whatever the model
    thinks, such a message is never acted on as an opt-out or deletion."""
    return any(p.search(text) for p in (_NEG_COMMAND, _UNDO, _GOODS_AFTER))


def asks_to_stop(text: str) -> bool:
    """The normalised `text` has a word of stopping or refusing in it (see ``_STOPPING``),
    or a homophone typo of 退订 (推订, 腿订: tui ding)."""
    return _STOPPING.search(text) is not None or _sounds_like_tuiding(text)


def _sounds_like_tuiding(text: str) -> bool:
    syllables = pinyin(text)
    return any(a == "tui" and b == "ding" for a, b in zip(syllables, syllables[1:], strict=False))


def about_pushes(text: str) -> bool:
    """The normalised `text` speaks of pushes, messages or the subscription (``_ABOUT_PUSHES``,
    or a homophone of 退订)."""
    return _ABOUT_PUSHES.search(text) is not None or _sounds_like_tuiding(text)


@lru_cache(maxsize=8192)
def features(text: str) -> tuple[str, ...]:
    """The features of `text` (repeats count: the model weighs them by frequency)."""
    t = normalize(text)
    out: list[str] = []
    bounded = f"^{t}$"
    for n in (1, 2, 3):
        out.extend(
            bounded[i : i + n]
            for i in range(len(bounded) - n + 1)
            if bounded[i : i + n] not in "^$"
        )
    syllables = pinyin(t)
    out.extend("p:" + s for s in syllables)
    out.extend(f"p:{a}_{b}" for a, b in zip(syllables, syllables[1:], strict=False))
    out.extend("w:" + w for w in _WORD.findall(t))
    out.extend("e:" + e for e in WECHAT_EMOJI.findall(t))
    if _NEG_COMMAND.search(t):
        out.append("cue:negated_command")
    if _UNDO.search(t):
        out.append("cue:undo")
    if _GOODS_AFTER.search(t):
        out.append("cue:goods_return")
    if asks_to_stop(t):
        out.append("cue:stopping")
    kind = courtesy_kind(t)
    if kind:
        out.append("cue:courtesy_" + kind)
    if QUESTION.search(t):
        out.append("cue:question")
    out.append("cue:len_" + _length_bucket(len(t.replace(" ", ""))))
    return tuple(out)
