"""What a buyer's free text asks for, as the handlers ask it: the intent model's decision
(``understanding/``) in the handlers' words.

Exact keywords (退订, 会员, 直播 …) stay with their handlers' keyword filters; this module
answers the rest — 怎么退订, 别推了🙅, 我是什么会员, 下次直播啥时候, 名片写错了, 谢谢👍,
转人工 — from the trained model (``understanding/model.py``, trained on
``understanding/corpus/``). A handler declares it with a filter, like any other::

    @router.text(intent("tier"))
    async def tier_card(ctx): ...

``understanding/decision.py`` decides, once per message (kept on ``ctx.notes``): below the
model's confidence threshold, or for what needs a person (orders, prices, returns …), there
is no intent and the message goes on to the FAQ entries and then to staff, as before; an
opt-out is acted on only when the model is very sure and nothing in the text takes it back
(不要退订, 误点了, 退订单), a middling one is ``opt_out_unsure`` (the handler asks); inside
a dialog only the card's own commands, opt-out/opt-in, and questions count, so 开播电商
answering the company question stays a company. Courtesy (greeting, thanks, toil, bye, ack,
festive) is the intent ``courtesy`` with its kind.

Voice messages are read through WeChat's recognition text (``ctx.text``), so a spoken
``以后别给我推送活动了`` is understood like a typed one. This module decides nothing about
what to answer and touches no database: the handlers (optout, membership, live, card, help,
smalltalk, handoff) do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.dialog.routing import TEXT_TYPES, Filter
from understanding.decision import decide
from understanding.labels import COURTESY, STAFF
from understanding.model import IntentModel, shipped_model

if TYPE_CHECKING:
    from bot.dialog.context import Context


@dataclass(frozen=True)
class Intent:
    name: str  # opt_out, opt_out_unsure, opt_in, tier, live, rsvp, card, show_card, …
    kind: str = ""  # courtesy: greeting / thanks / ack / toil / bye / festive
    confidence: float = 0.0  # the model's confidence in its best guess


def match(text: str, in_dialog: bool = False, model: IntentModel | None = None) -> Intent | None:
    """What `text` asks for, or None when it goes to staff (see the module docstring)."""
    decision = decide(model or shipped_model(), text, in_dialog)
    confidence = decision.guess.confidence
    if decision.action == STAFF:
        return None
    if decision.action in COURTESY:
        return Intent("courtesy", decision.action, confidence)
    return Intent(decision.action, "", confidence)


# Answering a staff matter from data (the latest order for 发货了吗) needs the model very
# sure: below, a person reads it as before. 0.8 keeps 天天发烦不烦 (0.77 "shipping") with staff.
STAFF_GUESS_CONFIDENCE = 0.8


def staff_guess(text: str, in_dialog: bool = False, model: IntentModel | None = None) -> str:
    """For a message that goes to staff, the needs-a-person label the model is sure of
    (shipping, returns …), or "" when it is not sure or the message is no staff matter."""
    decision = decide(model or shipped_model(), text, in_dialog)
    sure = decision.guess.confidence >= STAFF_GUESS_CONFIDENCE
    return decision.guess.label if decision.action == STAFF and sure else ""


def intent_of(ctx: Context) -> Intent | None:
    """The message's intent, worked out once per message."""
    in_dialog = ctx.dialog_state is not None  # a handler may end the dialog meanwhile
    key = "intent:dialog" if in_dialog else "intent"
    if key not in ctx.notes:
        ctx.notes[key] = match(ctx.text, in_dialog) if ctx.text else None
    return ctx.notes[key]


def intent(*names: str) -> Filter:
    """Filter: the text asks for one of `names` (an action of ``understanding/decision.py``)."""
    wanted = frozenset(names)

    def check(ctx: Context) -> bool:
        found = intent_of(ctx)
        return found is not None and found.name in wanted

    check.types = TEXT_TYPES  # type: ignore[attr-defined]
    check.words = None  # type: ignore[attr-defined]
    return check


def needs_person(label: str, *, unless: tuple[str, ...] = ()) -> Filter:
    """Filter: a confident guess of a needs-a-person `label` (``understanding/labels.py``) that
    a handler can sometimes answer from data — 发货了吗 from the latest order — and hands to
    staff otherwise. `unless` words keep general questions (运费, 几天到) for the FAQ."""

    def check(ctx: Context) -> bool:
        if not ctx.text or any(word in ctx.text for word in unless):
            return False
        in_dialog = ctx.dialog_state is not None
        key = "staff_guess:dialog" if in_dialog else "staff_guess"
        if key not in ctx.notes:
            ctx.notes[key] = staff_guess(ctx.text, in_dialog)
        return ctx.notes[key] == label

    check.types = TEXT_TYPES  # type: ignore[attr-defined]
    check.words = None  # type: ignore[attr-defined]
    return check
