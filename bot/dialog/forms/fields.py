"""What a form is made of: fields (prompt, parser, required or not) and the parse result types.

A form is declared as data (``handlers/card.py`` declares the card); ``bot/dialog/forms/engine.py``
runs any form. A parser turns the buyer's free text into a value or an ``Invalid`` whose
``reason`` names the complaint; the Chinese wording lives in the form's templates, so an
admin can edit it. Nothing here touches the database or renders text.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.dialog.context import Context, Reply
    from bot.dialog.forms.store import FormState


@dataclass(frozen=True)
class Invalid:
    """A refused answer; `reason` picks the complaint in the form's ``<form>_invalid`` template."""

    reason: str

    def __bool__(self) -> bool:  # an Invalid is never a usable value
        return False


SENTENCE = re.compile(r"[,，。;；!！?？]|\s")

Parser = Callable[[str, "Context"], Any]  # returns a JSON-able value or an Invalid
Extractor = Callable[[str, "Context"], dict[str, Any]]
# Called with each accepted answer (the card writes it to the buyer row at once, so 取消 keeps it).
AnswerHook = Callable[["Context", str, Any], Awaitable[None]]
# Called when no field is left to ask; returns the reply (the card moves to its confirmation).
CompleteHook = Callable[["Context", "FormState"], Awaitable["Reply"]]


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # shown in the card and in 修改名片's list
    prompt: str  # template name, e.g. "card_ask_volume"
    parse: Parser
    required: bool = False


@dataclass(frozen=True)
class Form:
    """A named list of fields. Template names derive from `name` (``card_invalid`` …)."""

    name: str
    fields: tuple[Field, ...]
    # One sentence may answer several fields; returns {field key: parsed value}.
    extract: Extractor | None = None
    # Does the text read as a sentence (several answers) rather than one short answer?
    is_sentence: Callable[[str], bool] = lambda text: bool(SENTENCE.search(text.strip()))
    on_answer: AnswerHook | None = None
    on_complete: CompleteHook | None = None

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def template(self, suffix: str) -> str:
        return f"{self.name}_{suffix}"
