"""Sending one service notice (a tier change, a period's statement) by the channels the one
rule allows (``bot/wechat/channels.py``): a customer-service message inside the 48-hour
window, then the purpose's template message where the account has one.

It decides nothing about who is told or when: the notices of each feature
(``members/tier_notices.py``, ``statements/notices.py``) do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer, OutboundMessage
from bot.wechat.channels import CUSTOM, route
from bot.wechat.client import WeChatAPI, WeChatAPIError
from bot.wechat.template_messages import TemplateMessageBook

log = logging.getLogger(__name__)

Attempt = tuple[str, str, int | None]  # (channel, "ok" | "failed", WeChat's errcode)
TemplateData = Callable[[], tuple[dict[str, Any], str | None]]


async def send_service_notice(
    api: WeChatAPI,
    book: TemplateMessageBook,
    now: datetime,
    buyer: Buyer,
    notice: tuple[str, str],
    template_data: TemplateData,
) -> list[Attempt]:
    """Try the allowed channels in order; the attempts, the last one "ok" when it went out.
    `notice` is (purpose, text); `template_data` lays it out as the purpose's template (data,
    link) when that channel is tried."""
    purpose, text = notice
    template_id = book.template_id(purpose)
    allowed = route(buyer.last_interaction_at, now, has_template=bool(template_id))
    attempts: list[Attempt] = []
    for channel in allowed.channels:
        try:
            if channel == CUSTOM:
                await api.send_text(buyer.openid, text)
            else:
                data, url = template_data()
                await api.send_template(buyer.openid, template_id, data, url)
            return [*attempts, (channel, "ok", None)]
        except WeChatAPIError as exc:  # 45015 (window closed) or 45047 (quota): the next one
            attempts.append((channel, "failed", exc.errcode))
        except Exception:
            log.exception("%s notice to %s by %s message failed", purpose, buyer.openid, channel)
            attempts.append((channel, "failed", None))
    return attempts


def record_notice(
    session: AsyncSession,
    buyer: Buyer,
    notice: tuple[str, str],
    attempts: list[Attempt],
    now: datetime,
) -> str:
    """Record each attempt as an outbound message; the channel that carried the notice, or
    "stored" when none did: then it waits on the buyer and rides on their next reply."""
    purpose, text = notice
    for channel, outcome, errcode in attempts:
        session.add(
            OutboundMessage(
                openid=buyer.openid, channel=channel, purpose=purpose, content=text,
                created_at=now, result=outcome, errcode=errcode,
            )
        )  # fmt: skip
    sent = next((channel for channel, outcome, _ in attempts if outcome == "ok"), None)
    if sent is not None:
        return sent
    keep_for_next_reply(buyer, text)
    return "stored"


def keep_for_next_reply(buyer: Buyer, text: str) -> None:
    """A notice no channel carries now waits on the buyer; their next reply carries it."""
    buyer.pending_notice = f"{buyer.pending_notice}\n\n{text}" if buyer.pending_notice else text
