"""The dispatcher: finds the handler for a message and applies the reply hooks.

Routers are tried in the order given (the order in ``handlers/__init__.py`` is the bot's
priority list); the first handler whose filters match and that returns a reply wins; if
none does, the fallback answers. Reply hooks run after, in order, and may change the reply
(the member badge, a pending notice, the weekly card reminder).

Which handlers can answer a message of a given type and normalised text is worked out once
from the filters' marks (``bot/dialog/routing.py``) and kept in a dict: a message runs the filters
of those candidates only, still in router and ``order`` order, instead of every keyword
filter of every handler. The index is rebuilt when a router gains a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.dialog.context import Context, Reply
from bot.dialog.routing import HandlerFunc, HandlerSpec, Router, normalize

StateLoader = Callable[[Context], Awaitable[str | None]]
ReplyHook = Callable[[Context, Reply], Awaitable[Reply]]


class Dispatcher:
    def __init__(
        self,
        routers: Sequence[Router],
        fallback: HandlerFunc,
        state_loader: StateLoader | None = None,
        reply_hooks: Sequence[ReplyHook] = (),
    ) -> None:
        self.routers = list(routers)
        self.fallback = fallback
        self.state_loader = state_loader
        self.reply_hooks = list(reply_hooks)
        self._signature: tuple | None = None
        self._words: frozenset[str] = frozenset()
        self._candidates: dict[tuple[str, str | None], tuple[HandlerSpec, ...]] = {}

    def handlers(self) -> list[HandlerSpec]:
        return [h for r in self.routers for h in r.handlers]

    def candidates(self, ctx: Context) -> tuple[HandlerSpec, ...]:
        """The handlers whose filters may match `ctx`, in the order they are tried."""
        signature = tuple((id(r), r.version, len(r.handlers)) for r in self.routers)
        if signature != self._signature:
            self._signature, self._candidates = signature, {}
            self._words = frozenset(
                w
                for h in self.handlers()
                for f in h.filters
                for w in (getattr(f, "words", None) or ())
            )
        text = ctx.text
        word = normalize(text) if text is not None else None
        key = (ctx.msg_type, word if word in self._words else None)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(h for h in self.handlers() if h.can_match(*key))
            if len(self._candidates) < 1024:  # message types are a small set; be safe
                self._candidates[key] = found
        return found

    async def dispatch(self, ctx: Context) -> tuple[Reply, str]:
        """Route one message; returns the reply and the name of the handler that made it."""
        if self.state_loader is not None:
            ctx.dialog_state = await self.state_loader(ctx)
        reply: Reply | None = None
        name = "fallback"
        for spec in self.candidates(ctx):
            if not spec.matches(ctx):
                continue
            result = await spec.func(ctx)
            if result is not None:
                reply, name = as_reply(result), spec.name
                break
        if reply is None:
            reply = as_reply(await self.fallback(ctx))
        for hook in self.reply_hooks:
            reply = await hook(ctx, reply)
        return reply, name


def as_reply(result: Reply | str | None) -> Reply:
    if isinstance(result, Reply):
        return result
    return Reply(result)
