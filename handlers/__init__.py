"""What the bot does for buyers: one router per module, tried in the order listed here.

Order matters: global commands that work anywhere (even in the middle of a form) come
before the form's own routers; what only makes sense outside a form (FAQ answers, a request
for a person, courtesy) comes after them, so 好的 answering the card's consent notice is the
card's. What nothing answers is handed off (``handlers/handoff.py``: the staff inbox; ``handlers/autoreply.py`` words it with the admin's 收到消息回复 when
one is set). The admin's keyword rules come after every built-in command. Natural phrasings reach the same handlers through the ``intent``
filter of ``handlers/intents.py``.
"""

from __future__ import annotations

from bot.dialog.context import Services
from bot.dialog.dispatch import Dispatcher
from bot.dialog.forms.store import load_dialog_state
from handlers import (
    autoreply,
    card,
    faq,
    handoff,
    live,
    mass_reports,
    membership,
    optout,
    shipping,
    smalltalk,
    staff_bind,
    statements,
    welcome,
)
from handlers import help as help_


def build_dispatcher(services: Services) -> Dispatcher:
    """Assemble the routers, dialog-state loader and reply hooks into the bot's dispatcher."""
    return Dispatcher(
        # card.form_router (free text inside the card dialog) stays last: keyword commands
        # of every other router are answered first, even in the middle of the card.
        routers=[
            mass_reports.router,  # a platform event, never a buyer's: nothing else may answer
            autoreply.welcome_router,  # an enabled 被关注回复 replaces the welcome
            welcome.router,
            staff_bind.router,  # a staff member's one-time code (LK + 6 digits)
            optout.router,
            live.router,
            membership.router,
            statements.router,  # 对账, 返点 … (before the admin's rules and the FAQ)
            help_.router,
            card.router,
            card.form_router,
            autoreply.router,  # the admin's keyword rules, after every built-in command
            # 发货了吗 / 到哪了 from the buyer's orders: after the card's answers (free text)
            # and the admin's rules, before the FAQ's general shipping answer (发货, 物流 are
            # its keywords too).
            shipping.router,
            faq.router,  # 发货 in a question beats 客服 in the same one
            handoff.router,  # a request for a person
            smalltalk.router,
        ],
        fallback=autoreply.fallback,  # 收到消息回复, else handoff.fallback's answer
        state_loader=load_dialog_state,
        reply_hooks=[
            card.offer_to_continue,
            card.remind_incomplete_card,
            membership.pending_notice_hook,  # a waiting tier notice rides on this reply
            membership.badge_hook,  # the badge heads the whole reply
            handoff.keep_in_thread,  # last: the thread keeps the reply as sent
        ],
    )
