"""Which WeChat template message each purpose uses, and how its fields are filled.

A purpose (``tier_change``, ``livestream`` …) has a template id from the configuration
(``[wechat] template_ids``); a feature package may override it at runtime with a layout —
an id, a text per field (``first``, ``keyword1`` …, ``remark``) with ``{placeholder}``s
the sender fills, and a link. Filling replaces ``{name}`` by the sender's value and nothing
else (no format specs, no attribute access), so a layout cannot reach anything. This module
does not store layouts or decide when a template message is allowed (``channels.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w{1,32})\}")


@dataclass(frozen=True)
class TemplateLayout:
    template_id: str
    fields: dict[str, str] = field(default_factory=dict)  # field → text with {placeholders}
    url: str = ""


def fill(text: str, values: dict[str, Any]) -> str:
    """`text` with each known ``{name}`` replaced by its value (unknown ones stay)."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


class TemplateMessageBook:
    """The configured template ids, overridden per purpose by ``overrides``."""

    def __init__(self, configured: dict[str, str]) -> None:
        self.configured = configured
        self.overrides: dict[str, TemplateLayout] = {}

    def template_id(self, purpose: str) -> str | None:
        layout = self.overrides.get(purpose)
        return (layout.template_id if layout else None) or self.configured.get(purpose) or None

    def data(
        self,
        purpose: str,
        values: dict[str, Any],
        default: dict[str, Any],
        url: str | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """The template data and link for `purpose`: the override's fields filled with
        `values`, or `default` when no fields are set."""
        layout = self.overrides.get(purpose)
        if layout is None or not layout.fields:
            return default, url
        data = {name: {"value": fill(text, values)} for name, text in layout.fields.items()}
        return data, fill(layout.url, values) or url


__all__ = ["TemplateLayout", "TemplateMessageBook", "fill"]
