"""The one form a buyer's message is read in before anything looks at it.

``normalize`` folds what varies without changing the meaning: full-width and compatibility
forms (NFKC: ＴＤ → td), case, traditional characters (訂閱 → 订阅, from
``data/t2s.json``), punctuation (every question mark becomes ``?``, the rest a space), runs
of one character (哈哈哈哈 → 哈哈, ？？？ → ?) and whitespace. Emoji, both Unicode (🙅 👍)
and WeChat's ``[强]`` codes, are kept: they carry meaning. ``pinyin`` spells the common
characters in toneless pinyin syllables, so a pinyin keyboard's homophone typos (退定, 会圆)
look like the words meant.

This module decides nothing about what a message means (``understanding/features.py`` and
the model do) and keeps no state but its two tables.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
_T2S = str.maketrans(json.loads((DATA / "t2s.json").read_text(encoding="utf-8")))
_SYLLABLE = {
    ch: syllable
    for syllable, chars in json.loads((DATA / "pinyin.json").read_text(encoding="utf-8")).items()
    for ch in chars
}

_QUESTION = re.compile(r"[?？]+")
# Punctuation of both widths (after NFKC most are ASCII); emoji and [微信表情] are not in it.
_PUNCT = re.compile(r"[\s,.!;:~、。…\"'“”‘’()（）《》<>【】\-_=+*/\\|@#$%^&`]+")
_RUNS = re.compile(r"(.)\1{2,}")
WECHAT_EMOJI = re.compile(r"\[[\u4e00-\u9fffa-z]{1,4}\]")


def is_han(ch: str) -> bool:
    """A CJK unified ideograph (the characters the pinyin table may know)."""
    return "\u4e00" <= ch <= "\u9fff"


def is_emoji(ch: str) -> bool:
    """A pictograph or its modifiers (🙅 👍 🙏, skin tones, joiners)."""
    return unicodedata.category(ch) in ("So", "Sk", "Mn", "Cf") or ch in "\u200d\ufe0f"


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """`text` in the form features are taken from (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text).lower().translate(_T2S)
    t = _QUESTION.sub("?", t)
    t = _PUNCT.sub(" ", t)
    t = _RUNS.sub(r"\1\1", t)
    return " ".join(t.split())


def pinyin(text: str) -> list[str]:
    """The toneless pinyin syllable of each common character of `text`, in order (other
    characters are left out)."""
    return [_SYLLABLE[ch] for ch in text if ch in _SYLLABLE]
