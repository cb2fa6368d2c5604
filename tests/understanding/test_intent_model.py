"""The intent model's runtime against scikit-learn, its file, its guard, and the promise that
the server never loads scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from understanding.corpus import Example
from understanding.decision import OPT_OUT_UNSURE, decide
from understanding.features import features, reverses_command
from understanding.model import IntentModel, Thresholds
from understanding.normalize import normalize, pinyin
from understanding.train import export, fit

SMALL = [
    *[Example(t, "opt_out", "") for t in ("退订", "别推了", "不要再推送了", "取消推送", "免打扰")],
    *[Example(t, "opt_in", "") for t in ("订阅", "恢复推送", "重新订阅", "继续推送吧", "打开推送")],
    *[Example(t, "tier", "") for t in ("我是什么会员", "会员等级", "我几级", "怎么升级", "权益")],
    *[Example(t, "other", "") for t in ("有新款吗", "这款多少钱", "在哪个市场", "M码有吗", "123")],
]
LOOSE = Thresholds(act=0.0, strict={"opt_out": 0.0, "delete_card": 0.0}, ask=0.0)


def test_the_runtime_scores_as_scikit_learn_does():
    vectorizer, classifier = fit(SMALL)
    model = export(vectorizer, classifier, LOOSE)
    for text in ("我不想再收到推送了", "会圆", "訂閱", "新款有吗？", "🙅"):
        expected = classifier.predict_proba(vectorizer.transform([text]))[0]
        assert np.allclose(model.scores(text), expected, atol=1e-5), text


def test_a_saved_model_loads_with_the_same_guesses(tmp_path):
    vectorizer, classifier = fit(SMALL)
    model = export(vectorizer, classifier, LOOSE)
    model.save(tmp_path / "m.npz")
    loaded = IntentModel.load(tmp_path / "m.npz")
    assert loaded.thresholds == LOOSE
    for text in ("别再推了", "我是几级会员", "有货吗"):
        assert loaded.guess(text).label == model.guess(text).label
        assert abs(loaded.guess(text).confidence - model.guess(text).confidence) < 0.01


def test_text_is_read_in_one_form():
    assert normalize("ＴＤ！！") == "td"
    assert normalize("幫我取消訂閱") == "帮我取消订阅"
    assert normalize("在嗎？？？") == "在吗?"
    assert normalize("哈哈哈哈哈") == "哈哈"
    assert pinyin("退定") == pinyin("退订") == ["tui", "ding"]


def test_homophone_typos_share_pinyin_features():
    assert "p:tui_ding" in features("退定") and "p:tui_ding" in features("退订")


@pytest.mark.parametrize(
    "text",
    ["不要退订", "先别删", "没说要退订啊 我只是问问直播几点", "退订点错了", "不用免打扰了",
     "我想退订单", "我退订的那批货钱退了没", "取消退订"],
)  # fmt: skip
def test_what_takes_an_opt_out_or_deletion_back_is_seen(text):
    assert reverses_command(normalize(text))


@pytest.mark.parametrize("text", ["退订", "别推了🙅", "以后别给我推送活动了", "删除我的资料"])
def test_a_plain_opt_out_or_deletion_is_not_taken_back(text):
    assert not reverses_command(normalize(text))


def test_the_guard_stops_an_opt_out_whatever_the_model_thinks():
    model = export(*fit(SMALL), LOOSE)
    assert model.guess("不要退订").label == "opt_out"  # the toy model is fooled
    assert decide(model, "不要退订").action != "opt_out"


def test_a_middling_opt_out_is_asked_and_a_weak_guess_goes_to_staff():
    model = export(*fit(SMALL), Thresholds(act=0.5, strict={"opt_out": 0.99}, ask=0.3))
    guess = model.guess("别推了")
    assert guess.label == "opt_out" and 0.3 <= guess.confidence < 0.99
    assert decide(model, "别推了").action == OPT_OUT_UNSURE
    strict = export(*fit(SMALL), Thresholds(act=0.99, strict={"opt_out": 0.999}, ask=0.99))
    assert decide(strict, "我几级").action == "staff"


def test_the_server_never_imports_scikit_learn():
    code = (
        "import sys; import laoke.app; from handlers.intents import match; "
        "assert match('退订吧') is not None; print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
