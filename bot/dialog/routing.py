"""Routers and filters: how a handler declares *when* it runs.

A handler is a plain ``async def handler(ctx: Context) -> Reply | str | None`` under a
decorator of its module's router::

    router = Router("membership")

    @router.text(keywords=("会员", "等级"))
    async def tier_card(ctx): ...

Filters are small callables over the context (message type, keyword, pattern, event, menu
key, dialog state); a handler runs when all of its filters match. The dispatcher
(``bot/dialog/dispatch.py``) tries routers in the order it was given them and, inside a router,
handlers by their ``order`` then declaration order. A handler that returns ``None`` declines
and the search goes on. Nothing here touches HTTP or XML.

Filters built here also say statically which messages they can never match (``types``: the
message types they need; ``words``: the normalised keywords), so the dispatcher can skip, by
one dict lookup, handlers that cannot answer a message without running their filters. A
filter without these marks (any custom callable) is simply always run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.dialog.context import Context, Reply

HandlerFunc = Callable[["Context"], Awaitable["Reply | str | None"]]
Filter = Callable[["Context"], bool]


@lru_cache(maxsize=4096)  # every keyword filter asks for the same message text
def normalize(text: str) -> str:
    """The form keywords are compared in: stripped, full-width folded, lower-case."""
    out = []
    for ch in text.strip():
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
            ch = chr(code - 0xFEE0)
        elif code == 0x3000:
            ch = " "
        out.append(ch)
    return "".join(out).strip().lower()


# --- filters -----------------------------------------------------------------------------

TEXT_TYPES = frozenset(("text", "voice"))  # the only messages with a ``ctx.text``
EVENT_TYPES = frozenset(("event",))  # the only messages with a ``ctx.event``


def _marked(
    check: Filter, types: frozenset[str] | None = None, words: frozenset[str] | None = None
) -> Filter:
    """`check`, noting that it is False unless the message type is in `types` and (for a
    keyword filter) the normalised text is in `words` (see ``bot/dialog/dispatch.py``)."""
    check.types = types  # type: ignore[attr-defined]
    check.words = words  # type: ignore[attr-defined]
    return check


def msg_type(*types: str) -> Filter:
    """The message type is one of `types` (text, image, voice, event …)."""
    wanted = frozenset(types)
    return _marked(lambda ctx: ctx.msg_type in wanted, types=wanted)


def keyword(*words: str) -> Filter:
    """The text (or voice recognition) is exactly one of `words`, after normalisation."""
    wanted = frozenset(normalize(w) for w in words)
    return _marked(
        lambda ctx: ctx.text is not None and normalize(ctx.text) in wanted,
        types=TEXT_TYPES,
        words=wanted,
    )


def pattern(regex: str | re.Pattern[str]) -> Filter:
    """The text matches `regex` (``re.search``); the match is left on ``ctx.match``."""
    compiled = re.compile(regex) if isinstance(regex, str) else regex

    def check(ctx: Context) -> bool:
        if ctx.text is None:
            return False
        m = compiled.search(ctx.text.strip())
        if m:
            ctx.match = m
        return m is not None

    return check


def event(*names: str) -> Filter:
    """The event is one of `names` (lower-case, as wechatpy names them: subscribe, click …)."""
    wanted = frozenset(n.lower() for n in names)
    return _marked(lambda ctx: ctx.event is not None and ctx.event in wanted, types=EVENT_TYPES)


def menu_key(*keys: str) -> Filter:
    """A CLICK menu event with one of `keys`."""
    wanted = frozenset(keys)
    return _marked(lambda ctx: ctx.event == "click" and ctx.event_key in wanted, types=EVENT_TYPES)


def dialog(state: str | None) -> Filter:
    """The buyer's dialog state is `state` ("card", "card:confirm" …; None = no dialog).

    A state ending in ``*`` matches by prefix (``"card*"`` matches "card:phone")."""
    if state is not None and state.endswith("*"):
        prefix = state[:-1]
        return _marked(
            lambda ctx: ctx.dialog_state is not None and ctx.dialog_state.startswith(prefix)
        )
    return _marked(lambda ctx: ctx.dialog_state == state)


# --- routers -----------------------------------------------------------------------------


@dataclass
class HandlerSpec:
    func: HandlerFunc
    filters: tuple[Filter, ...]
    order: int
    seq: int

    @property
    def name(self) -> str:
        return f"{self.func.__module__.rsplit('.', 1)[-1]}.{self.func.__name__}"

    def matches(self, ctx: Context) -> bool:
        for f in self.filters:
            if not f(ctx):
                return False
        return True

    def can_match(self, msg_type: str, word: str | None) -> bool:
        """False if a marked filter rules out a message of `msg_type` whose normalised text
        is `word` (None: no text, or a text no keyword filter knows).

        Only the marked filters (side-effect free) before the first unmarked one count: an
        unmarked filter (``pattern`` sets ``ctx.match``) would have run before a later one
        declined, so the handler is kept and its filters run as usual."""
        for f in self.filters:
            if not hasattr(f, "types"):
                return True
            if f.types is not None and msg_type not in f.types:
                return False
            if f.words is not None and word not in f.words:
                return False
        return True


@dataclass
class Router:
    """A named set of handlers; one per module under ``handlers/``."""

    name: str
    handlers: list[HandlerSpec] = field(default_factory=list)
    # Bumped on every registration: the dispatcher's index of handlers is rebuilt then.
    version: int = 0

    def handler(self, *filters: Filter, order: int = 0) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register a handler that runs when all `filters` match."""

        def register(func: HandlerFunc) -> HandlerFunc:
            self.handlers.append(HandlerSpec(func, tuple(filters), order, len(self.handlers)))
            self.handlers.sort(key=lambda h: (h.order, h.seq))
            self.version += 1
            return func

        return register

    def text(
        self,
        *filters: Filter,
        keywords: Iterable[str] | None = None,
        regex: str | re.Pattern[str] | None = None,
        order: int = 0,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """A text (or recognised voice) message, optionally by keyword or pattern."""
        fs: list[Filter] = [_marked(lambda ctx: ctx.text is not None, types=TEXT_TYPES)]
        if keywords is not None:
            fs.append(keyword(*keywords))
        if regex is not None:
            fs.append(pattern(regex))
        return self.handler(*fs, *filters, order=order)

    def event(self, *names: str, filters: Iterable[Filter] = (), order: int = 0):
        """An event by name (subscribe, unsubscribe, scan, click, view …)."""
        return self.handler(event(*names), *filters, order=order)

    def click(self, *keys: str, order: int = 0):
        """A custom-menu CLICK with one of `keys`."""
        return self.handler(menu_key(*keys), order=order)

    def message(self, *types: str, filters: Iterable[Filter] = (), order: int = 0):
        """A message of one of `types` (image, location, link …)."""
        return self.handler(msg_type(*types), *filters, order=order)
