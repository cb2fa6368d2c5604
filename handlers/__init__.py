"""What the bot does for buyers: one router per module, tried in the order listed here.

Order matters: global commands that work anywhere (even in the middle of a form) come
before the form's own routers, and the help reply is the fallback when nothing matches.
"""

from __future__ import annotations

from bot.context import Services
from bot.dispatch import Dispatcher
from handlers import help as help_, welcome


def build_dispatcher(services: Services) -> Dispatcher:
    """Assemble the routers, dialog-state loader and reply hooks into the bot's dispatcher."""
    return Dispatcher(
        routers=[welcome.router, help_.router],
        fallback=help_.fallback,
    )
