"""Keyword rules as admins write them: how a message is matched (order, modes, hours), what
the editor refuses, and that a hostile pattern cannot stall the bot."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from content.autoreplies import Matcher, duplicate_keywords, parse_ruleset, render_reply

NOON_BEIJING = datetime(2026, 5, 18, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
NIGHT_BEIJING = datetime(2026, 5, 18, 15, 0, tzinfo=UTC)  # 23:00


def rule(rid, name, words, mode="contains", reply="好的", **extra):
    kws = [{"text": w, "mode": mode} for w in words]
    return {"id": rid, "name": name, "keywords": kws, "replies": [reply], **extra}


def matcher(*rules, **extra):
    return Matcher(parse_ruleset({"rules": list(rules), **extra}))


def test_exact_contains_and_pattern_match_as_their_names_say():
    m = matcher(
        rule("r1", "地址", ["地址"], "exact"),
        rule("r2", "发货", ["发货"], "contains"),
        rule("r3", "单号", [r"单号\s*\d{6,}"], "regex"),
    )
    assert m.match("地址", NOON_BEIJING).id == "r1"
    assert m.match(" 地址 ", NOON_BEIJING).id == "r1"  # normalised
    assert m.match("你们地址在哪", NOON_BEIJING) is None  # 全匹配 only the whole message
    assert m.match("什么时候发货呀", NOON_BEIJING).id == "r2"
    assert m.match("单号 12345678 到哪了", NOON_BEIJING).id == "r3"
    assert m.match("单号 12", NOON_BEIJING) is None


def test_higher_priority_wins_then_list_order():
    m = matcher(
        rule("r1", "first", ["发货"]),
        rule("r2", "second", ["发货"]),
        rule("r3", "urgent", ["加急发货"], priority=10),
    )
    assert m.match("发货", NOON_BEIJING).id == "r1"
    assert m.match("能加急发货吗", NOON_BEIJING).id == "r3"


def test_disabled_rules_and_rules_outside_their_hours_do_not_answer():
    m = matcher(
        rule("r1", "day", ["在吗"], hours="09:00-18:00"),
        rule("r2", "night", ["在吗"], hours="22:00-08:00"),
        rule("r3", "off", ["价格"], enabled=False),
    )
    assert m.match("在吗", NOON_BEIJING).id == "r1"
    assert m.match("在吗", NIGHT_BEIJING).id == "r2"  # overnight span in Beijing time
    assert m.match("价格", NOON_BEIJING) is None


def test_a_catastrophic_pattern_gives_up_instead_of_stalling():
    m = matcher(rule("r1", "evil", [r"(\w+\s?)+\d$"], "regex"))
    started = time.monotonic()
    assert m.match("a" * 400 + "!", NOON_BEIJING) is None
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"rules": [rule("r1", "x", ["("], "regex")]}, "正则"),
        ({"rules": [rule("r1", "x", ["a" * 31])]}, "超过"),
        ({"rules": [rule("r1", "x", ["a"], hours="9-18")]}, "09:00-18:00"),
        ({"rules": [rule("r1", "x", ["a"], reply="{{ 9**9**9**9 }}")]}, "无法生成"),
        ({"rules": [rule("r1", "x", ["a"], reply="{{ ''.__class__ }}")]}, "无法生成"),
        ({"default": {"enabled": True, "text": " "}}, "不能为空"),
    ],
)
def test_the_editor_refuses_bad_rules_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        parse_ruleset(data)


def test_replies_fill_in_the_buyers_name_and_tier():
    text = render_reply("{称呼}您好，您是{等级}", {"name": "王总", "company": "", "tier": "金卡"})
    assert text == "王总您好，您是金卡"


def test_duplicate_keywords_name_every_rule_using_them():
    rs = parse_ruleset({"rules": [rule("r1", "甲", ["发货"]), rule("r2", "乙", ["发货 "])]})
    assert duplicate_keywords(rs) == {"发货": ["甲", "乙"]}


@pytest.mark.parametrize("pattern", [r"(a)\1", r"价格(?=多少)", r"(?<!不)要", r"(?!x)y"])
def test_the_editor_refuses_backreferences_and_lookaround_in_chinese(pattern):
    with pytest.raises(ValueError, match="正则不支持反向引用或环视，请改写"):
        parse_ruleset({"rules": [rule("r1", "x", [pattern], "regex")]})


def test_a_stored_rule_with_a_now_refused_pattern_loads_disabled_with_its_reason():
    stored = {"rules": [rule("r1", "旧规则", [r"(好)\1"], "regex"), rule("r2", "发货", ["发货"])]}
    rs = parse_ruleset(stored, stored=True)
    assert rs.rules[0].problem == "正则不支持反向引用或环视，请改写"
    assert rs.rules[1].problem is None
    m = Matcher(rs)
    assert m.match("好好", NOON_BEIJING) is None  # the refused rule never answers
    assert m.match("发货了吗", NOON_BEIJING).id == "r2"  # the others still do
    # What was typed is kept, so the admin sees and fixes the pattern.
    assert rs.model_dump(mode="json")["rules"][0]["keywords"][0]["text"] == r"(好)\1"


def test_one_time_budget_per_message_skips_the_remaining_rules_once_spent():
    ticks = iter(range(1000))  # each look at the timer costs one "second"
    rules = [rule(f"r{i}", f"规则{i}", [f"词{i}"]) for i in range(1, 11)]
    m = Matcher(parse_ruleset({"rules": rules}), budget_s=3, timer=lambda: next(ticks))
    found = m.match_within("词9", NOON_BEIJING)
    assert found.rule is None and found.budget_spent  # rule 9 was never reached
    assert 0 < found.tried < 9
    roomy = Matcher(parse_ruleset({"rules": rules}), budget_s=1000, timer=lambda: next(ticks))
    assert roomy.match_within("词9", NOON_BEIJING).rule.id == "r9"
