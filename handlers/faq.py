"""Answers to buyers' common questions (起批量, 发货时间, 开票, 退换货 …) from ``[[faq]]``.

A text containing one of an entry's keywords (compared after ``bot.dialog.routing.normalize``)
gets that entry's answer, sent as written; the first entry in the file wins. The list is
validated when the configuration is loaded (``bot/config.py`` ``FaqEntry``). The admins'
keyword rules (``handlers/autoreply.py``) are tried before these entries; this deliberately does no fuzzy
matching (an operator's keyword means what it says) and renders no template (the answer
is plain text, nothing in it is evaluated).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import FaqEntry
from bot.dialog.context import Context, Reply
from bot.dialog.routing import TEXT_TYPES, Router, normalize

router = Router("faq")


def find_faq(text: str, entries: Sequence[FaqEntry]) -> FaqEntry | None:
    """The first entry one of whose keywords occurs in `text` (``normalize`` is cached)."""
    t = normalize(text)
    for entry in entries:
        if any(normalize(w) in t for w in entry.keywords):
            return entry
    return None


def _asks_faq(ctx: Context) -> bool:
    if ctx.text is None or not ctx.config.faq:
        return False
    ctx.notes["faq"] = find_faq(ctx.text, ctx.config.faq)
    return ctx.notes["faq"] is not None


_asks_faq.types = TEXT_TYPES  # type: ignore[attr-defined]
_asks_faq.words = None  # type: ignore[attr-defined]


@router.text(_asks_faq)
async def answer_faq(ctx: Context) -> Reply:
    return Reply(ctx.notes["faq"].answer)
