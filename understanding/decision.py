"""From the model's guess to what the bot does: act, ask, or hand to staff.

One rule, one home: the handlers (``handlers/intents.py``) and the evaluation
(``understanding/evaluate.py``) both ask ``decide``, so the figures measure what buyers get.

- A needs-a-person label (orders, prices, returns …), any guess below the ``act``
  threshold, or a message most of whose features the model never saw (``MIN_KNOWN``),
  goes to staff as before: the bot does not answer on a guess.
- An opt-out or a card deletion the text rules out goes to staff: a negation or a taking
  back (``features.reverses_command``: 不要退订, 误点了, 退订单), or, for an opt-out, no
  word of stopping at all (``features.asks_to_stop``: 要推送). Otherwise an opt-out is acted
  on only at its strict confidence and when it speaks of pushes or messages
  (``features.about_pushes``: 取消 alone does not); short of that, from ``ask`` up, it is
  ``opt_out_unsure`` (the handler asks "是想停止接收活动推送吗？"), as is a needs-a-person
  guess with opt-out a close runner-up (消息太多了: a complaint, or an opt-out). A card deletion short of
  its strict confidence goes to staff (its handler asks for confirmation as well). An opt-in
  must speak of pushes too (继续 alone is the card's).
- Courtesy with something else in it (TD 谢谢, 退订 辛苦, 谢谢 我是什么会员) is decided on
  what is left without the courtesy words, when that is very likely a feature request
  (``REST_CONFIDENCE``): the thanks are not what the buyer wants answered.
- Inside a dialog (a card question waiting for an answer) a message counts as a command
  when it asks something (我是什么会员？) or is one of the card's own commands or an
  opt-out/opt-in with at least ``DIALOG_CONFIDENCE``; anything else is an answer (开播电商
  answering the company question is a company, 淘宝 抖音 are channels). No "are you sure"
  is asked inside a dialog.
"""

from __future__ import annotations

from dataclasses import dataclass

from understanding.features import (
    QUESTION,
    about_pushes,
    asks_to_stop,
    courtesy_kind,
    reverses_command,
    without_courtesy,
)
from understanding.labels import COMMANDS, COURTESY, FEATURES, STAFF
from understanding.model import Guess, IntentModel
from understanding.normalize import normalize

OPT_OUT_UNSURE = "opt_out_unsure"
# Commands that keep their meaning as the answer to a card question.
ANYWHERE = ("opt_out", "opt_in", "delete_card", "edit_card", "show_card")
# A needs-a-person guess (a complaint: 消息太多了) with opt-out this close behind is asked.
RUNNER_UP_ASK = 0.3
# A message most of whose features the model never saw is no basis for a guess (emoji and
# courtesy words alone excepted: 🤖 is a friendly acknowledgement).
MIN_KNOWN = 0.5
# What is left of courtesy with something in it (TD 谢谢 → td) must be a feature request
# this likely to be taken (万分感谢 → 万分 is nothing; 客服辛苦 thanks, asks for no one).
REST_CONFIDENCE = 0.8
# Inside a dialog most messages are answers (王姐, 淘宝 抖音): a command must be very likely.
DIALOG_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Decision:
    action: str  # a command or courtesy label, opt_out_unsure, or staff
    guess: Guess


def decide(model: IntentModel, text: str, in_dialog: bool = False) -> Decision:
    """What the bot should do with `text` (see the module docstring)."""
    guess = model.guess(text)
    action = _action(model, guess, text, in_dialog)
    if action in COURTESY and courtesy_kind(normalize(text)) is None:
        # Courtesy with something else in it (TD 谢谢, 退订 辛苦): the rest may be a command.
        rest = without_courtesy(normalize(text))
        inner = model.guess(rest) if rest and rest != normalize(text) else None
        if inner and inner.label in FEATURES and inner.confidence >= REST_CONFIDENCE:
            meant = _action(model, inner, rest, in_dialog)
            if meant in FEATURES or meant == OPT_OUT_UNSURE:
                return Decision(meant, inner)
    return Decision(action, guess)


def plausible(label: str, text: str) -> bool:
    """Nothing in the normalised `text` rules out a destructive `label`: no negation or
    taking back (``features.reverses_command``), and for an opt-out a word of stopping
    (``features.asks_to_stop``)."""
    if reverses_command(text):
        return False
    return label != "opt_out" or asks_to_stop(text)


def _maybe_opt_out(model: IntentModel, guess: Guess, text: str, in_dialog: bool) -> bool:
    """A complaint that may also be an opt-out (消息太多了): opt-out is the close runner-up."""
    runner_up, confidence = guess.ranked[1] if len(guess.ranked) > 1 else ("", 0.0)
    return (
        runner_up == "opt_out"
        and confidence >= RUNNER_UP_ASK
        and not in_dialog
        and plausible("opt_out", text)
    )


def _action(model: IntentModel, guess: Guess, text: str, in_dialog: bool) -> str:
    limits = model.thresholds
    label, confidence = guess.label, guess.confidence
    t = normalize(text)
    if label not in COMMANDS and label not in COURTESY:
        return OPT_OUT_UNSURE if _maybe_opt_out(model, guess, t, in_dialog) else STAFF
    if guess.known < MIN_KNOWN and courtesy_kind(t) is None:
        return STAFF  # aaab, ĀĀ不: too little the model has seen to guess from
    if label == "opt_in" and not about_pushes(t):
        return STAFF  # 继续 answering the card's offer is no opt-in
    if label in limits.strict:
        if not plausible(label, t):
            return STAFF  # 不要退订, 误点了, 要推送: whatever it is, a person reads it
        sure = confidence >= limits.strict[label] and (label != "opt_out" or about_pushes(t))
        if not sure:  # 别烦我, 取消: perhaps; ask, but never inside a dialog
            ask = label == "opt_out" and confidence >= limits.ask and not in_dialog
            return OPT_OUT_UNSURE if ask else STAFF
    if confidence < limits.act:
        return STAFF
    if in_dialog and not QUESTION.search(t):
        if label not in ANYWHERE or confidence < DIALOG_CONFIDENCE:
            return STAFF
    return label
