"""What a staff password must be: long enough, not common, not guessable, not the name.

Length alone let ``12345678`` and ``amy1`` + digits through. zxcvbn (Dropbox's estimator, with
its lists of common passwords, names, words, keyboard runs, dates and sequences) scores a
password 0–4 by the guesses an attacker would need; we ask for ``MIN_SCORE`` (3: about 10⁸
guesses, hopeless against argon2 and the sign-in throttle) and refuse any password that
contains the account name. The reason is said in Chinese: zxcvbn's own feedback is English,
so its warnings are translated here (an unknown one gets a general reason).

Only the first ``SCORED_LENGTH`` characters are scored: zxcvbn's cost grows with the square of
the length and it refuses longer input; a longer password that starts strongly is strong.
This module does not hash or store anything (``accounts.py``).
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 8
MAX_LENGTH = 256  # nobody types more; bounds the hashing work a form can ask for
MIN_SCORE = 3
SCORED_LENGTH = 72  # zxcvbn's own maximum
MIN_NAME_IN_PASSWORD = 3

COMMON = "密码太常见"
GUESSABLE = "密码太容易猜到"
# zxcvbn's warnings (zxcvbn/feedback.py) in staff's words.
WARNINGS = {
    "This is a top-10 common password.": (COMMON, "它是最常用的十个密码之一"),
    "This is a top-100 common password.": (COMMON, "它是最常用的一百个密码之一"),
    "This is a very common password.": (COMMON, "它在常用密码表里"),
    "This is similar to a commonly used password.": (COMMON, "它和常用密码只差一点"),
    "A word by itself is easy to guess.": (GUESSABLE, "单独一个单词"),
    "Names and surnames by themselves are easy to guess.": (GUESSABLE, "单独的姓名"),
    "Common names and surnames are easy to guess.": (GUESSABLE, "常见姓名"),
    "Straight rows of keys are easy to guess.": (GUESSABLE, "键盘上连成一排的键"),
    "Short keyboard patterns are easy to guess.": (GUESSABLE, "简短的键盘图案"),
    'Repeats like "aaa" are easy to guess.': (GUESSABLE, "重复的字符（如 aaa）"),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': (
        GUESSABLE,
        "重复的片段（如 abcabc）",
    ),
    'Sequences like "abc" or "6543" are easy to guess.': (GUESSABLE, "连续的字母或数字"),
    "Recent years are easy to guess.": (GUESSABLE, "最近的年份"),
    "Dates are often easy to guess.": (GUESSABLE, "日期"),
}
ADVICE = "请用几个不相关的词加上数字或符号组成"


def weakness(name: str, password: str) -> str | None:
    """Why `password` may not be used by the account `name`, in Chinese; None if it may."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 位"
    name = name.strip()
    # Two letters inside a long password say nothing about it; a name of three or more does.
    if len(name) >= MIN_NAME_IN_PASSWORD and name.casefold() in password.casefold():
        return f"{GUESSABLE}：不能包含用户名。{ADVICE}"
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=[name] if name else None)
    if result["score"] >= MIN_SCORE:
        return None
    kind, reason = WARNINGS.get(result["feedback"]["warning"], (GUESSABLE, "太短或太有规律"))
    return f"{kind}：{reason}。{ADVICE}"
