"""The corpus loader: the format of ``understanding/corpus/README.md``, and the refusals that
keep the test figures honest."""

from __future__ import annotations

import pytest

from understanding.corpus import CorpusError, load


def write(directory, name, text):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def test_comments_and_blank_lines_are_not_messages(tmp_path):
    write(tmp_path, "tier.txt", "# tier questions\n\n我是什么会员\n  会员等级  \n")
    write(tmp_path / "test", "tier.txt", "我几级\n")
    train, test = load(tmp_path)
    assert [(e.text, e.label) for e in train] == [("我是什么会员", "tier"), ("会员等级", "tier")]
    assert [e.text for e in test] == ["我几级"]


def test_an_unknown_label_is_refused_by_its_file_name(tmp_path):
    write(tmp_path, "vip.txt", "会员\n")
    with pytest.raises(CorpusError, match="vip.txt"):
        load(tmp_path)


def test_a_message_in_both_splits_is_refused(tmp_path):
    write(tmp_path, "tier.txt", "会员等级\n")
    write(tmp_path / "test", "tier.txt", "会员等级\n")
    with pytest.raises(CorpusError, match="training split"):
        load(tmp_path)


def test_one_message_under_two_labels_is_refused_naming_both(tmp_path):
    write(tmp_path, "tier.txt", "会员\n")
    write(tmp_path, "other.txt", "会员！\n")
    with pytest.raises(CorpusError, match=r"tier.txt:1.*labelled other \(other.txt:1\)"):
        load(tmp_path)


def test_a_test_message_the_model_has_seen_in_another_spelling_is_left_out(tmp_path):
    write(tmp_path, "opt_out.txt", "退订\n")
    write(tmp_path / "test", "opt_out.txt", "退订！\n别推了\n")
    _, test = load(tmp_path)
    assert [e.text for e in test] == ["别推了"]
