"""The dispatcher: finds the handler for a message and applies the reply hooks.

Routers are tried in the order given (the order in ``handlers/__init__.py`` is the bot's
priority list); the first handler whose filters match and that returns a reply wins; if
none does, the fallback answers. Reply hooks run after, in order, and may change the reply
(the member badge, a pending notice, the weekly card reminder).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.context import Context, Reply
from bot.routing import HandlerFunc, HandlerSpec, Router

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

    def handlers(self) -> list[HandlerSpec]:
        return [h for r in self.routers for h in r.handlers]

    async def dispatch(self, ctx: Context) -> tuple[Reply, str]:
        """Route one message; returns the reply and the name of the handler that made it."""
        if self.state_loader is not None:
            ctx.dialog_state = await self.state_loader(ctx)
        reply: Reply | None = None
        name = "fallback"
        for spec in self.handlers():
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
