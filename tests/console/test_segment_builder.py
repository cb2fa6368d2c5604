"""The builder model (console/segment_builder.py) and its summary: form ⇄ spec, errors placed
on the row a spec path points into, and the sentence operators read."""

from __future__ import annotations

import pytest

from bot.clock import Clock
from console.segment_builder import Group, Row, from_spec, place_error, to_spec
from console.segment_summary import summarize
from scheduler.segments import SegmentError, Vocabulary, compile_segment

TIERS = {"gold": "金卡", "silver": "银卡"}
SPEC = {"all": [
    {"field": "tier", "op": "in", "value": ["gold", "silver"]},
    {"field": "interests", "op": "contains", "value": "女装"},
    {"field": "days_since_interaction", "op": "gte", "value": 30},
    {"any": [{"field": "region", "op": "eq", "value": "广东"},
             {"field": "spend_12m", "op": "between", "value": [5000, 20000]}]},
    {"not": {"field": "opted_out", "op": "eq", "value": True}},
]}  # fmt: skip


def test_a_spec_of_one_level_of_groups_round_trips():
    groups = from_spec(SPEC)
    assert [g.mode for g in groups] == ["all", "any", "not"]
    assert groups[1].rows[1] == Row("spend_12m", "between", "5000", "20000")
    assert to_spec(groups).spec == SPEC


def test_the_summary_reads_as_the_brief_says():
    assert summarize(SPEC, TIERS) == (
        "金卡或银卡，兴趣含女装，30 天未互动，地区为广东或近12个月采购额 5,000–20,000，排除已退订"
    )
    assert summarize({"all": []}, TIERS) == "全部买家"


def test_deeper_specs_are_left_to_json():
    assert from_spec({"any": [{"all": [{"any": []}]}]}) is None
    assert from_spec({"not": {"all": [SPEC["all"][0]]}}) is None


@pytest.mark.parametrize(
    "groups, where",
    [
        ([Group("all", [Row("tier", "eq", "gold"), Row("tier", "eq", "golden")])], (0, 1)),
        ([Group("any", [Row("tier", "eq", "gold"), Row("tier", "eq", "golden")])], (0, 1)),
        (
            [
                Group("all", [Row("tier", "eq", "gold")]),
                Group("not", [Row("tier", "eq", "golden")]),
            ],
            (1, 0),
        ),
        ([Group("not", [Row("tier", "eq", "x"), Row("tier", "eq", "golden")])], (0, 0)),
    ],
)
def test_a_compile_error_lands_on_its_row(groups, where):
    built = to_spec(groups)
    with pytest.raises(SegmentError) as caught:
        compile_segment(built.spec, Clock().now(), Vocabulary(("gold", "silver"), ()))
    assert place_error(groups, built, caught.value.path, caught.value.problem)
    bad = [(gi, ri) for gi, g in enumerate(groups) for ri, r in enumerate(g.rows) if r.error]
    assert bad == [where] and "unknown tier" in groups[where[0]].rows[where[1]].error


def test_text_that_cannot_be_a_value_is_refused_before_compiling():
    groups = [Group("all", [Row("orders_12m", "gte", "很多"), Row("subscribed", "eq", "maybe"),
                            Row("", "", "女装"), Row()])]  # fmt: skip
    built = to_spec(groups)
    assert built.errors
    assert [r.error for r in groups[0].rows] == [
        "请填写数字",
        "请选择「是」或「否」",
        "请选择字段",
        "",
    ]
