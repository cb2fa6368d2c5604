"""Auto-reply rules: the rule set admins edit in the console, how a message is matched
against it, and how a reply is rendered.

A rule set (one JSON document, saved whole as a new version by ``content/autoreply_store.py``)
holds keyword rules, the reply for new followers (被关注回复) and the reply for messages
nothing answered (收到消息回复). A keyword rule has keywords, each matched one of three ways
after ``bot.dialog.routing.normalize``: ``exact`` (全匹配: the whole message), ``contains``
(半匹配) or ``regex`` (正则, matched with RE2 on at most ``MAX_TEXT`` characters, with the
pattern at most ``MAX_PATTERN`` characters). RE2 runs in time linear in the text, so no
pattern can backtrack for seconds; it refuses what it cannot run that way (backreferences,
lookaround), and the editor says so when the rule is saved. A rule set stored before that
check (or by an older version) still loads: a refused pattern leaves its rule stopped, with
the reason in ``Rule.problem`` for the page to show. On top of that, matching one message
against all the rules together has one time budget (``MATCH_BUDGET_S``): when it is spent
the remaining rules are skipped, and the caller counts it. Rules are tried by priority
(higher first), then by their order in the set; a rule counts only while enabled and inside
its active hours (``09:00-18:00`` in the account's time zone, overnight spans allowed).

A reply is a short bounded template (``bot/sandbox.py``): ``{称呼}`` ``{公司}`` ``{等级}``
are replaced by the buyer's name, company and tier name (empty when unknown); Jinja
expressions are allowed and bounded. A rule answers with its one reply or, in ``random``
mode, with one of its replies picked at random.

This module does not read the database, decide the order against the built-in commands
(``handlers/__init__.py`` does), or count hits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from time import perf_counter
from typing import Any, Literal
from zoneinfo import ZoneInfo

import re2
from jinja2 import StrictUndefined
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.dialog.routing import normalize
from bot.sandbox import BoundedEnvironment, Limits, RenderError, render_checked

MAX_RULES = 200
MAX_KEYWORDS = 10
MAX_KEYWORD = 30  # characters of an exact / contains keyword
MAX_PATTERN = 100  # characters of a regex keyword
MAX_TEXT = 500  # characters of a message a pattern is run on
# Matching one message against every rule: RE2 makes each pattern linear, this bounds the sum.
# The largest set the editor allows (200 rules × 10 patterns on 500 characters) took 20–30 ms
# on a busy 2-core machine; a usual set (tens of rules, mostly words) takes well under 1 ms.
MATCH_BUDGET_S = 0.05
REFUSED_CONSTRUCT = "正则不支持反向引用或环视，请改写"
MAX_REPLIES = 5
MAX_REPLY = 600  # characters of a reply template (WeChat shows ~2,000 in a text reply)

MODES = {"exact": "全匹配", "contains": "半匹配", "regex": "正则"}
VARIABLES = {"称呼": "name", "公司": "company", "等级": "tier"}
_PLACEHOLDER = re.compile(r"\{(称呼|公司|等级)\}")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

_ENV = BoundedEnvironment(
    undefined=StrictUndefined,
    limits=Limits(time_s=0.2, max_output=2_000, max_str=2_000, max_items=100, max_steps=2_000),
)


# RE2's own words for what it refuses to run in linear time: "\1" is an invalid escape,
# "(?=" "(?!" "(?<=" "(?<!" are invalid operators.
_BACKREF_OR_LOOKAROUND = re.compile(
    r"invalid escape sequence: \\[1-9]|invalid perl operator: \(\?<?[=!]"
)
# "[\u4e00-\u9fa5]" (Chinese characters) is how admins learnt to write it; RE2 spells it \x{…}.
_PY_ESCAPE = re.compile(r"(?<!\\)\\u([0-9a-fA-F]{4})")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the editor's message, not a log line
_RE2_OPTIONS.max_mem = 1 << 20  # a 100-character pattern never needs more than this


def compile_pattern(text: str) -> re2._Regexp:
    """An admin's pattern compiled with RE2; ``ValueError`` with a Chinese reason if refused."""
    try:
        return re2.compile(_PY_ESCAPE.sub(r"\\x{\1}", text), options=_RE2_OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        reason = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        if _BACKREF_OR_LOOKAROUND.search(reason):
            raise ValueError(REFUSED_CONSTRUCT) from None
        if "too large" in reason or "too big" in reason:
            raise ValueError(f"正则「{text}」太复杂，请写短一些") from None
        raise ValueError(f"正则「{text}」写法有误（括号、方括号或转义不完整）") from None


class Keyword(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_PATTERN)
    mode: Literal["exact", "contains", "regex"] = "contains"
    # Why a stored pattern cannot be run (a rule set loaded with ``stored=True``); never saved.
    refused: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Keyword:
        self.text = self.text.strip()
        if not self.text:
            raise ValueError("关键词不能为空")
        if self.mode != "regex" and len(self.text) > MAX_KEYWORD:
            raise ValueError(f"关键词「{self.text[:10]}…」超过 {MAX_KEYWORD} 个字")
        if self.mode == "regex":
            try:
                compile_pattern(self.text)
            except ValueError as exc:
                if not (info.context or {}).get("stored"):
                    raise
                self.refused = str(exc)
        return self


class Rule(BaseModel):
    id: str = Field(pattern=r"^r\d{1,6}$")
    name: str = Field(min_length=1, max_length=30)
    keywords: list[Keyword] = Field(min_length=1, max_length=MAX_KEYWORDS)
    replies: list[str] = Field(min_length=1, max_length=MAX_REPLIES)
    reply_mode: Literal["one", "random"] = "one"
    priority: int = Field(0, ge=0, le=100)
    hours: str | None = None  # "09:00-18:00" in the account's time zone; None: all day
    enabled: bool = True

    @property
    def problem(self) -> str | None:
        """Why this rule cannot answer whatever ``enabled`` says (a refused stored pattern)."""
        return next((k.refused for k in self.keywords if k.refused), None)

    @field_validator("replies")
    @classmethod
    def _replies(cls, v: list[str]) -> list[str]:
        out = [r.strip() for r in v if r.strip()]
        if not out:
            raise ValueError("回复内容不能为空")
        for text in out:
            if len(text) > MAX_REPLY:
                raise ValueError(f"回复超过 {MAX_REPLY} 个字")
            check_reply(text)
        return out

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().replace("：", ":").replace("–", "-").replace("~", "-")
        m = _HOURS.match(v)
        if not m or v[:5] == v[6:]:
            raise ValueError("生效时间应写成 09:00-18:00")
        return v


class FixedReply(BaseModel):
    """The reply to new followers or to unmatched messages (off unless enabled)."""

    enabled: bool = False
    text: str = Field("", max_length=MAX_REPLY)

    @model_validator(mode="after")
    def _check(self) -> FixedReply:
        self.text = self.text.strip()
        if self.enabled and not self.text:
            raise ValueError("启用时回复内容不能为空")
        if self.text:
            check_reply(self.text)
        return self


class RuleSet(BaseModel):
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    welcome: FixedReply = Field(default_factory=FixedReply)
    default: FixedReply = Field(default_factory=FixedReply)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("规则编号重复")
        return self

    def refused_patterns(self) -> set[str]:
        """The regex keywords RE2 refuses (only in a set loaded with ``stored=True``)."""
        return {k.text for r in self.rules for k in r.keywords if k.refused}

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def next_id(self) -> str:
        return f"r{max((int(r.id[1:]) for r in self.rules), default=0) + 1}"


def parse_ruleset(data: dict[str, Any], *, stored: bool = False) -> RuleSet:
    """A submitted rule set; ``ValueError`` with a Chinese reason when invalid. A ``stored``
    one keeps a pattern RE2 refuses, its rule stopped with the reason (``Rule.problem``)."""
    try:
        return RuleSet.model_validate(data, context={"stored": stored})
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "value_error":
            raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None
        names = [p for p in first["loc"] if isinstance(p, str) and p in _FIELDS]
        label = _FIELDS[names[-1]] if names else "规则"
        raise ValueError(f"{label}{_PROBLEMS.get(first['type'], '无效')}") from None


_FIELDS = {"name": "规则名称", "keywords": "关键词", "text": "内容", "replies": "回复",
           "priority": "优先级", "rules": "规则", "mode": "匹配方式"}  # fmt: skip
_PROBLEMS = {"string_too_short": "不能为空", "string_too_long": "太长", "too_long": "太多",
             "too_short": "至少需要一个", "greater_than_equal": "超出范围（0–100）",
             "less_than_equal": "超出范围（0–100）", "literal_error": "无效"}  # fmt: skip


# --- replies ------------------------------------------------------------------------------
def _source(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: "{{ " + VARIABLES[m.group(1)] + " }}", text)


def check_reply(text: str) -> None:
    """Refuse a reply that does not compile or render for a sample buyer."""
    try:
        render_reply(text, {"name": "王总", "company": "义乌小商品有限公司", "tier": "金卡会员"})
    except RenderError as exc:
        raise ValueError(f"回复无法生成：{exc.reason}") from None


def render_reply(text: str, variables: dict[str, str]) -> str:
    """The reply for one buyer (``RenderError`` if the template fails or trips a limit)."""
    return render_checked(lambda: _ENV.from_string(_source(text)).render(**variables)).strip()


# --- matching -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    exact: frozenset[str]
    contains: tuple[str, ...]
    patterns: tuple[re2._Regexp, ...]
    span: tuple[time, time] | None


def _span(hours: str | None) -> tuple[time, time] | None:
    if hours is None:
        return None
    start, end = hours.split("-")
    end_t = time(23, 59, 59, 999999) if end == "24:00" else time.fromisoformat(end)
    return time.fromisoformat(start), end_t


def in_hours(span: tuple[time, time] | None, local: time) -> bool:
    if span is None:
        return True
    start, end = span
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # overnight: 22:00-08:00


@dataclass(frozen=True)
class Match:
    """What matching one message found: the rule (or None), how many rules were tried, and
    whether the time budget ran out before every rule was."""

    rule: Rule | None
    tried: int
    budget_spent: bool


class Matcher:
    """A rule set prepared for matching (built once per published version).

    `budget_s` is the time all rules together may take on one message, read from `timer`
    (seconds; injectable so tests need no wall clock)."""

    def __init__(
        self,
        ruleset: RuleSet,
        timezone: str = "Asia/Shanghai",
        *,
        budget_s: float = MATCH_BUDGET_S,
        timer: Callable[[], float] = perf_counter,
    ) -> None:
        self.ruleset = ruleset
        self.tz = ZoneInfo(timezone)
        self.budget_s, self.timer = budget_s, timer
        ordered = sorted(
            enumerate(ruleset.rules), key=lambda pair: (-pair[1].priority, pair[0])
        )  # stable: equal priorities keep the list order
        self.compiled = [
            _Compiled(
                rule,
                frozenset(normalize(k.text) for k in rule.keywords if k.mode == "exact"),
                tuple(normalize(k.text) for k in rule.keywords if k.mode == "contains"),
                tuple(
                    compile_pattern(k.text)
                    for k in rule.keywords
                    if k.mode == "regex" and not k.refused
                ),
                _span(rule.hours),
            )
            for _, rule in ordered
            if rule.problem is None  # a refused stored pattern: the rule stays stopped
        ]

    def match(self, text: str, now: datetime, *, include_disabled: bool = False) -> Rule | None:
        """The first rule (by priority, then order) one of whose keywords matches `text`."""
        return self.match_within(text, now, include_disabled=include_disabled).rule

    def match_within(self, text: str, now: datetime, *, include_disabled: bool = False) -> Match:
        """``match`` with its accounting: the rules tried and whether the budget ran out."""
        t = normalize(text[: MAX_TEXT * 2])
        bounded = t[:MAX_TEXT]
        local = now.astimezone(self.tz).time()
        deadline = self.timer() + self.budget_s
        tried = 0
        for c in self.compiled:
            if not include_disabled and (not c.rule.enabled or not in_hours(c.span, local)):
                continue
            if self.timer() >= deadline:
                return Match(None, tried, budget_spent=True)
            tried += 1
            if t in c.exact or any(w in t for w in c.contains):
                return Match(c.rule, tried, budget_spent=False)
            if any(p.search(bounded) is not None for p in c.patterns):
                return Match(c.rule, tried, budget_spent=False)
        return Match(None, tried, budget_spent=False)


def pick_reply(rule: Rule, rng: random.Random | None = None) -> str:
    if rule.reply_mode == "random" and len(rule.replies) > 1:
        return (rng or random).choice(rule.replies)
    return rule.replies[0]


def duplicate_keywords(ruleset: RuleSet) -> dict[str, list[str]]:
    """Keywords (exact/contains, normalised) used by more than one rule → the rules' names."""
    seen: dict[str, list[str]] = {}
    for rule in ruleset.rules:
        for word in {normalize(k.text) for k in rule.keywords if k.mode != "regex"}:
            seen.setdefault(word, []).append(rule.name)
    return {w: names for w, names in seen.items() if len(names) > 1}
