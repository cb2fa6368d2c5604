"""The compare view's rows: lines paired, changed characters marked, added and removed
lines on their own side."""

from __future__ import annotations

from content.template_diff import ADDED, CHANGED, REMOVED, SAME, diff_rows


def test_a_changed_line_marks_only_the_characters_that_differ():
    rows = diff_rows("欢迎光临\n回复「名片」交换名片", "欢迎光临\n回复「会员」查看等级")
    assert [r.kind for r in rows] == [SAME, CHANGED]
    changed = rows[1]
    assert (changed.old.number, changed.new.number) == (2, 2)
    assert [t for t, marked in changed.old.runs if marked] == ["名片", "交换名片"]
    assert [t for t, marked in changed.new.runs if marked] == ["会员", "查看等级"]
    assert "".join(t for t, _ in changed.new.runs) == "回复「会员」查看等级"


def test_added_and_removed_lines_have_no_partner():
    rows = diff_rows("甲\n乙\n丙", "甲\n丙\n丁")
    assert [(r.kind, r.old.number, r.new.number) for r in rows] == [
        (SAME, 1, 1), (REMOVED, 2, None), (SAME, 3, 2), (ADDED, None, 3),
    ]  # fmt: skip
    assert rows[1].old.runs == (("乙", True),) and rows[3].new.runs == (("丁", True),)


def test_identical_texts_are_all_same_rows():
    assert {r.kind for r in diff_rows("一\n二", "一\n二")} == {SAME}
