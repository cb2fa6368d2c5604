"""What staff read instead of keys: audit actions, tier-change reasons, variable chips and
template syntax errors in Chinese (``console/labels.py``)."""

from __future__ import annotations

import jinja2
import pytest

from console.labels import audit_action, template_error, template_problem, variable_chips
from content.catalogue import CAMPAIGN


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("buyer.tag_add", "给买家加标签"),
        ("template.rollback", "回滚话术"),
        ("api.POST /segments", "通过 API 新建分群"),
        ("api.DELETE /campaigns/3", "通过 API 删除活动"),
        ("something.new", "其他变更"),  # never the key itself
    ],
)
def test_audit_actions_read_as_what_was_done(key, label):
    assert audit_action(key) == label


def _jinja_error(source: str) -> str:
    try:
        jinja2.Environment().from_string(source).render()
    except jinja2.TemplateError as exc:
        return exc.message or ""
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("你好 {{ buyer.display_name", '变量没有结束：缺少「<code translate="no">}}</code>」'),
        ("{% if x %}你好", '「<code translate="no">if</code>」没有结束：缺少'
                          '「<code translate="no">{% endif %}</code>」'),
        ("你好 {{ name }", '多余或不配对的符号「<code translate="no">}</code>」'),
        ("{% endfor %}", '多余或不认识的标签「<code translate="no">endfor</code>」'),
    ],
)  # fmt: skip
def test_template_syntax_errors_are_said_in_chinese(source, said):
    assert str(template_error(_jinja_error(source))) == said


def test_undefined_names_and_unknown_errors_never_show_english():
    assert (
        str(template_error("'nobody' is undefined"))
        == '没有变量「<code translate="no">nobody</code>」'
    )
    assert (
        str(template_error("something went sideways")) == "模板写法有误，请检查变量和标签是否成对"
    )
    assert str(template_problem(3, "话术不能为空", "金卡")) == "第 3 行：话术不能为空（示例：金卡）"


def test_campaign_chips_are_chinese_and_insert_the_key():
    chips = variable_chips(CAMPAIGN, ("name", "tier.name", "start_local"))
    assert [(c.label, c.insert) for c in chips] == [
        ("买家称呼", "name"), ("买家等级·名称", "tier.name"), ("开播时间", "start_local"),
    ]  # fmt: skip
