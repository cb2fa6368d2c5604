"""One verified callback as one frozen, typed record: what the rest of the pipeline reads.

``read_inbound(message)`` is the only place that looks at wechatpy's raw fields (its
private ``_data``): wechatpy's typed accessors raise on odd values, and the dedup key, the
send time and what the inbound row keeps must come from the fields exactly as WeChat sent
them. Everything after it — the claim, the buyer upsert, the metrics, the outcome — reads
the record's attributes; handlers still see wechatpy's message through ``ctx.message``.

This module parses nothing (``bot/inbound/parse.py`` does) and stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wechatpy.messages import BaseMessage

from bot.inbound.parse import Unreadable

MAX_OPENID = 64
KEY_LENGTH = 160  # InboundMessage.dedup_key


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified WeChat callback, read once."""

    openid: str
    target: str | None  # the account's id (ToUserName): the reply's sender
    msg_type: str  # MsgType as sent, lower case (wechatpy's type when it knows it)
    known: bool  # wechatpy knows the type (else there is nothing to route)
    event: str | None  # the event's name, for events
    key: str | None  # the event's key (menu click, QR scene …)
    text: str | None  # text content, or voice recognition when speech recognition is on
    recognition: str | None
    content: str | None  # what the inbound row keeps: the text, or what identifies the payload
    created_at: datetime | None  # when WeChat received it (CreateTime)
    scene: str | None  # the QR scene a follow came from
    dedup_key: str  # equal for every retry of one message, different between messages
    message: BaseMessage  # wechatpy's message, for the handlers' context


def read_inbound(message: BaseMessage) -> Inbound:
    """The record of one wechatpy message; Unreadable when the sender is not an openid."""
    openid = message.source
    if not openid or not isinstance(openid, str) or len(openid) > MAX_OPENID:
        raise Unreadable("sender is not an openid")
    raw: dict[str, Any] = message._data  # the raw fields, as WeChat sent them
    known = message.type != "unknown"
    if known:
        msg_type = message.type
        event = message.event if msg_type == "event" else None
    else:
        msg_type = str(raw.get("MsgType", "unknown"))[:32].lower()
        event = str(raw["Event"])[:32].lower() if "Event" in raw else None
    recognition = getattr(message, "recognition", None) or None
    if message.type == "text":
        text = message.content or ""
    elif message.type == "voice":
        text = recognition
    else:
        text = None
    return Inbound(
        openid=openid,
        target=message.target,
        msg_type=msg_type,
        known=known,
        event=event,
        key=getattr(message, "key", None) if message.type == "event" else None,
        text=text,
        recognition=recognition,
        content=_content(raw),
        created_at=utc_from_epoch(raw.get("CreateTime")),
        scene=_scene(message, event),
        dedup_key=_dedup_key(raw),
        message=message,
    )


def _dedup_key(data: dict[str, Any]) -> str:
    """The key that is equal for every retry of one message and differs between messages."""
    sender = data.get("FromUserName", "")
    msg_type = str(data.get("MsgType", "")).lower()
    if msg_type == "event":
        rest = (
            f"e|{data.get('CreateTime', '')}|{data.get('Event', '')}|{data.get('EventKey') or ''}"
        )
    elif data.get("MsgId"):
        rest = f"m|{data['MsgId']}"
    else:  # an unknown message type without MsgId: the event rule is the best there is
        rest = f"t|{data.get('CreateTime', '')}|{msg_type}"
    key = f"{sender}|{rest}"
    if len(key) > KEY_LENGTH:
        key = f"{sender}|h|{hashlib.sha1(rest.encode()).hexdigest()}"
    return key


def _content(data: dict[str, Any]) -> str | None:
    """What the inbound row keeps of a message: its text, or what identifies its payload."""
    for name in ("Content", "Recognition", "EventKey", "PicUrl", "Url", "Label", "MediaId"):
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _scene(message: BaseMessage, event: str | None) -> str | None:
    if event == "subscribe_scan":
        return str(getattr(message, "scene_id", "") or "")[:64] or None
    return None


def utc_from_epoch(value: Any) -> datetime | None:
    """WeChat's CreateTime (epoch seconds) as an aware datetime, or None if it is not one."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
