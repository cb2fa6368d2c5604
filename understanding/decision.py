"""From the model's guess to what the bot does: act, ask, or hand to staff.

One rule, one home: the handlers (``handlers/intents.py``) and the evaluation
(``understanding/evaluate.py``) both ask ``decide``, so the figures measure what buyers get.

- A needs-a-person label (orders, prices, returns …), or any guess below the ``act``
  threshold, goes to staff as before: the bot does not answer on a guess.
- An opt-out or a card deletion the text rules out goes to staff: a negation or a taking
  back (``features.reverses_command``: 不要退订, 误点了, 退订单), or, for an opt-out, no
  word of stopping at all (``features.asks_to_stop``: 要推送). Otherwise an opt-out is acted
  on only at its strict confidence; between ``ask`` and that it is ``opt_out_unsure`` (the
  handler asks "是想停止接收活动推送吗？"). A card deletion short of its strict confidence
  goes to staff (its handler asks for confirmation as well).
- Inside a dialog (a card question waiting for an answer) only the card's own commands,
  opt-out/opt-in and courtesy count as they are; anything else must also be a question
  (开播电商 answering the company question is a company, 我是什么会员？ is a command).
"""

from __future__ import annotations

from dataclasses import dataclass

from understanding.features import QUESTION, asks_to_stop, reverses_command
from understanding.labels import COMMANDS, COURTESY, STAFF
from understanding.model import Guess, IntentModel
from understanding.normalize import normalize

OPT_OUT_UNSURE = "opt_out_unsure"
# Commands that keep their meaning as the answer to a card question.
ANYWHERE = ("opt_out", "opt_in", "delete_card", "edit_card", "show_card")


@dataclass(frozen=True)
class Decision:
    action: str  # a command or courtesy label, opt_out_unsure, or staff
    guess: Guess


def decide(model: IntentModel, text: str, in_dialog: bool = False) -> Decision:
    """What the bot should do with `text` (see the module docstring)."""
    guess = model.guess(text)
    return Decision(_action(model, guess, text, in_dialog), guess)


def plausible(label: str, text: str) -> bool:
    """Nothing in `text` rules out a destructive `label`: no negation or taking back
    (``features.reverses_command``), and for an opt-out a word of stopping
    (``features.asks_to_stop``)."""
    t = normalize(text)
    if reverses_command(t):
        return False
    return label != "opt_out" or asks_to_stop(t)


def _action(model: IntentModel, guess: Guess, text: str, in_dialog: bool) -> str:
    limits = model.thresholds
    label, confidence = guess.label, guess.confidence
    if label not in COMMANDS and label not in COURTESY:
        return STAFF
    if label in limits.strict:
        if not plausible(label, text):
            return STAFF  # 不要退订, 误点了, 要推送: whatever it is, a person reads it
        if confidence < limits.strict[label]:
            return OPT_OUT_UNSURE if label == "opt_out" and confidence >= limits.ask else STAFF
    if confidence < limits.act:
        return STAFF
    if in_dialog and label not in ANYWHERE and not QUESTION.search(normalize(text)):
        return STAFF
    return label
