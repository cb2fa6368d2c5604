"""Mass send to lists of openids (``message/mass/send``) and its preview to one WeChat user.

A mass send carries one text to 2–10,000 followers per call; ``clientmsgid`` (at most 64
characters) makes it idempotent: the same id within 24 hours is answered 45065 ("already
sent") and a retry within a minute 45066, both of which mean the first call reached WeChat —
:func:`mass_send` turns them into an ordinary answer with ``already_sent`` set, so a retry
after a timeout or a crash is always safe. The outcome (how many were filtered, sent, failed)
arrives later as the ``MASSSENDJOBFINISH`` event carrying the ``msg_id`` answered here.

This module does not choose recipients, count allowances or render texts
(``bot/wechat/channels.py`` says who may get a mass send, ``scheduler/`` sends them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.wechat.channels import MASS_TEXT_MAX
from bot.wechat.client import WeChatAPIError

if TYPE_CHECKING:
    from bot.wechat.client import WeChatAPI

MASS_MIN, MASS_MAX = 2, 10_000  # openids per call
ALREADY_SENT, RETRIED_TOO_SOON = 45065, 45066
NO_QUOTA = 45028  # the account's mass sends are used up
CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class MassAnswer:
    msg_id: str | None
    already_sent: bool


def client_msg_id(campaign_id: int, step_id: int, batch: int) -> str:
    """The idempotency key of one batch of one campaign step (stable across retries)."""
    return f"laoke-c{campaign_id}-s{step_id}-b{batch}"


async def mass_send(api: WeChatAPI, openids: list[str], text: str, clientmsgid: str) -> MassAnswer:
    """Send `text` to `openids`; a reused `clientmsgid` answers ``already_sent``."""
    if not MASS_MIN <= len(openids) <= MASS_MAX:
        raise ValueError(f"a mass send goes to {MASS_MIN}–{MASS_MAX:,} openids, not {len(openids)}")
    if len(text) > MASS_TEXT_MAX:
        raise ValueError(f"a mass-sent text has at most {MASS_TEXT_MAX} characters")
    if not CLIENT_MSG_ID.match(clientmsgid):
        raise ValueError(f"clientmsgid {clientmsgid!r} is not 1–64 letters, digits, _ or -")
    payload = {
        "touser": openids,
        "msgtype": "text",
        "text": {"content": text},
        "clientmsgid": clientmsgid,
    }
    try:
        answer = await api.call("POST", "cgi-bin/message/mass/send", payload)
    except WeChatAPIError as exc:
        if exc.errcode in (ALREADY_SENT, RETRIED_TOO_SOON):
            return MassAnswer(None, True)
        raise
    msg_id = answer.get("msg_id")
    return MassAnswer(str(msg_id) if msg_id is not None else None, False)


async def mass_preview(api: WeChatAPI, openid: str, text: str) -> None:
    """Show `text` as a mass message to one user (a staff member's own WeChat)."""
    payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
    await api.call("POST", "cgi-bin/message/mass/preview", payload)
