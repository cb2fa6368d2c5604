"""Saved quick replies (快捷回复) and their placeholders {称呼} {等级}.

``fill`` puts the buyer's name and tier into a reply and reports any placeholder it could
not fill: the composer highlights them and the console refuses to send a reply that still
has one (``unfilled``). Adding and deleting run in the caller's transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.conversations import InboxError
from inbox.models import QuickReply

PLACEHOLDER = re.compile(r"\{(称呼|等级)\}")
MAX_TITLE, MAX_BODY = 40, 600


def fill(body: str, *, name: str | None, tier: str | None) -> str:
    """`body` with {称呼} and {等级} replaced where the buyer has them (others kept)."""
    values = {"称呼": name or "", "等级": tier or ""}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)] or m.group(0), body)


def unfilled(text: str) -> list[str]:
    """Placeholders still in `text` (a reply with any is not sent)."""
    return sorted({m.group(0) for m in PLACEHOLDER.finditer(text)})


def add_quick_reply(
    session: AsyncSession, title: str, body: str, user_id: int | None, now: datetime
) -> QuickReply:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise InboxError(f"标题需要 1–{MAX_TITLE} 字")
    if not body or len(body) > MAX_BODY:
        raise InboxError(f"内容需要 1–{MAX_BODY} 字")
    reply = QuickReply(title=title, body=body, created_by=user_id, created_at=now)
    session.add(reply)
    return reply


async def delete_quick_reply(session: AsyncSession, reply_id: int) -> QuickReply:
    reply = await session.get(QuickReply, reply_id)
    if reply is None:
        raise InboxError("没有这条快捷回复")
    await session.delete(reply)
    return reply
