"""The one renderer for buyer-facing text and pages: Jinja2's sandbox over ``templates/``.

Buyer-facing templates may later be edited by admins (stored in the database); the bounded
sandbox (``bot/sandbox.py``) keeps an edited template from reaching Python internals and
bounds what a render may cost. Edits plug in two ways: ``overrides`` (checked before the
files, for tests and tools) and ``override_source``, an object a feature package installs
(``render(name, variables)`` returning the text, or None to use the file); this module does
not know where overrides come from or how they are stored. Message templates are plain text: no HTML escaping,
trailing whitespace trimmed so a template's final newline does not reach the buyer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader, StrictUndefined, select_autoescape

from bot.sandbox import BoundedEnvironment

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"


def yuan(amount: float | int | None) -> str:
    """¥3,200 / ¥1,280.50 — how money is shown to buyers."""
    if amount is None:
        return "¥0"
    amount = float(amount)
    if amount == int(amount):
        return f"¥{int(amount):,}"
    return f"¥{amount:,.2f}"


def cents(amount: int | None) -> str:
    """Integer cents as buyers read money: 123456 → ¥1,234.56, 320000 → ¥3,200, -500 → -¥5
    (exact: no float on the way)."""
    if amount is None:
        return "¥0"
    sign, whole, fen = "-" if amount < 0 else "", abs(int(amount)) // 100, abs(int(amount)) % 100
    return f"{sign}¥{whole:,}" if fen == 0 else f"{sign}¥{whole:,}.{fen:02d}"


class OverrideSource(Protocol):
    def render(self, name: str, variables: dict[str, Any]) -> str | None:
        """The text of message template `name` from an edited version, or None to render
        the file (no edit, or the edit failed for these variables)."""


class Renderer:
    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.overrides: dict[str, str] = {}
        self.override_source: OverrideSource | None = None
        loader = ChoiceLoader([DictLoader(self.overrides), FileSystemLoader(templates_dir)])
        # Text messages: no escaping; pages (*.html) are escaped. A template compiled from a
        # string (a campaign's message_source) is a text message too: no escaping.
        self.env = BoundedEnvironment(
            loader=loader,
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # No stat() of the template file on every render (it showed in the webhook's
            # profile); overrides clear the cache themselves (set_override).
            auto_reload=False,
        )
        self.env.filters["yuan"] = yuan
        self.env.filters["cents"] = cents

    def render(self, template: str, **variables: Any) -> str:
        """Render ``messages/<template>.j2`` (or a full template path) to text."""
        if self.override_source is not None and "/" not in template:
            text = self.override_source.render(template, variables)
            if text is not None:
                return text
        name = template if "/" in template else f"messages/{template}.j2"
        return self.env.get_template(name).render(**variables).strip()

    def set_override(self, name: str, source: str) -> None:
        """Replace a template's source (validated by compiling it first)."""
        self.env.parse(source)  # raises TemplateSyntaxError with the line number
        self.overrides[name] = source
        self.env.cache.clear() if self.env.cache is not None else None
