"""Staff replies to a buyer: what WeChat allows now, and sending through the customer-service API.

``window_of`` says how much of the 48-hour window is left and how many of its 5
customer-service messages remain — counting every customer-service message sent in the window,
campaign pushes included — using the one rule of ``bot/wechat/channels.py``. ``send_reply``
refuses a free-text reply outside it (server-side, whatever the page showed) and sends text
or an uploaded image; ``send_template_reply`` is the offer once the window has closed, where
the account has an ``inbox_reply`` template. Each records the outbound message and the
thread entry in one transaction after WeChat accepted it. Auditing is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Buyer, OutboundMessage
from bot.wechat import channels
from bot.wechat.client import WeChatAPI, WeChatAPIError
from bot.wechat.template_messages import FIELD_LIMITS, TemplateMessageBook, fit
from inbox.conversations import InboxError, record_staff_reply
from inbox.models import Conversation

PURPOSE = "staff_reply"
TEMPLATE_PURPOSE = "inbox_reply"  # [wechat.template_ids] key for the closed-window offer
TEMPLATE_TEXT_MAX = FIELD_LIMITS["thing"]  # what a thing field shows (an answer: a notice)
MAX_TEXT = 600


@dataclass(frozen=True)
class Window:
    """The buyer's customer-service window as the composer shows it."""

    open: bool
    remaining: timedelta
    used: int  # customer-service messages sent since the buyer's last interaction

    @property
    def left(self) -> int:
        return max(0, channels.CUSTOM_QUOTA - self.used)

    @property
    def can_send(self) -> bool:
        return self.open and self.left > 0

    @property
    def reason(self) -> str:
        if not self.open:
            return "买家超过 48 小时没有互动，微信不允许再发客服消息"
        return "这个窗口里的 5 条客服消息已用完（含活动推送），买家再发消息后才能回复"


async def window_of(session: AsyncSession, buyer: Buyer, now: datetime) -> Window:
    last = buyer.last_interaction_at
    if not channels.in_window(last, now):
        return Window(False, timedelta(0), 0)
    used = await session.scalar(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            OutboundMessage.openid == buyer.openid,
            OutboundMessage.channel == channels.CUSTOM,
            OutboundMessage.result == "ok",
            OutboundMessage.created_at >= last,
        )
    )
    return Window(True, last + channels.WINDOW - now, int(used or 0))


@dataclass(frozen=True)
class Staff:
    id: int
    name: str


async def _load(session: AsyncSession, conversation_id: int) -> tuple[Conversation, Buyer]:
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        raise InboxError("没有这个会话")
    buyer = await session.get(Buyer, conv.buyer_id)
    if buyer is None:  # pragma: no cover - the foreign key keeps it
        raise InboxError("买家已不存在")
    return conv, buyer


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    conversation_id: int,
    openid: str,
    staff: Staff,
    *,
    channel: str,
    msgtype: str,
    content: str,
    now: datetime,
    errcode: int | None = None,
    on_recorded=None,
) -> int | None:
    async with sessions() as session, session.begin():
        out = OutboundMessage(
            openid=openid,
            channel=channel,
            purpose=PURPOSE,
            content=content,
            created_at=now,
            result="ok" if errcode is None else "failed",
            errcode=errcode,
        )
        session.add(out)
        await session.flush()
        if errcode is not None:
            return None
        message = await record_staff_reply(
            session,
            conversation_id,
            staff_id=staff.id,
            staff_name=staff.name,
            content=content,
            msgtype=msgtype,
            outbound_id=out.id,
            now=now,
        )
        if on_recorded is not None:
            await on_recorded(session, message)
        return message.id


async def send_reply(
    sessions: async_sessionmaker[AsyncSession],
    api: WeChatAPI,
    conversation_id: int,
    staff: Staff,
    now: datetime,
    *,
    text: str | None = None,
    image: tuple[bytes, str, str] | None = None,
    on_recorded=None,
) -> int:
    """Send `text` or `image` (bytes, filename, content type) as a customer-service message.

    Raises InboxError (Chinese, for the composer) when the window or quota forbids it or
    WeChat refuses; `on_recorded(session, message)` runs inside the recording transaction
    (the console audits there)."""
    if text is not None:
        text = text.strip()
        if not text:
            raise InboxError("请输入回复内容")
        if len(text) > MAX_TEXT:
            raise InboxError(f"回复最多 {MAX_TEXT} 字")
    elif image is None:
        raise InboxError("请输入回复内容")
    async with sessions() as session:
        conv, buyer = await _load(session, conversation_id)
        window = await window_of(session, buyer, now)
    if not window.can_send:
        raise InboxError(window.reason)
    try:
        if text is not None:
            await api.send_text(buyer.openid, text)
            msgtype, content = "text", text
        else:
            data, filename, content_type = image  # type: ignore[misc]
            media_id = await api.upload_image(data, filename, content_type)
            await api.send_image(buyer.openid, media_id)
            msgtype, content = "image", f"[图片] {filename}"
    except WeChatAPIError as exc:
        if channels.window_closed(exc.errcode):
            await _record(
                sessions, conversation_id, buyer.openid, staff, channel=channels.CUSTOM,
                msgtype="text", content=text or "[图片]", now=now, errcode=exc.errcode,
            )  # fmt: skip
            raise InboxError("微信拒绝了这条客服消息：窗口已关闭或 5 条已用完") from None
        if exc.errcode is None:
            raise InboxError("微信没有回应，请稍后重试（消息可能未送达）") from None
        raise InboxError(f"微信拒绝发送（错误码 {exc.errcode}）") from None
    message_id = await _record(
        sessions, conversation_id, buyer.openid, staff, channel=channels.CUSTOM,
        msgtype=msgtype, content=content, now=now, on_recorded=on_recorded,
    )  # fmt: skip
    return int(message_id or 0)


async def send_template_reply(
    sessions: async_sessionmaker[AsyncSession],
    api: WeChatAPI,
    template_id: str | None,
    conversation_id: int,
    staff: Staff,
    text: str,
    now: datetime,
    *,
    on_recorded=None,
    book: TemplateMessageBook | None = None,
) -> int:
    """The closed-window offer: a template message carrying the staff's text, in the fields
    an admin mapped for ``inbox_reply`` (`book`), else in the template's ``thing1``."""
    if not template_id:
        raise InboxError("没有配置回复用的模板消息（[wechat.template_ids] inbox_reply）")
    text = text.strip()
    if not text or len(text) > TEMPLATE_TEXT_MAX:
        raise InboxError(f"模板消息的字段微信最多显示 {TEMPLATE_TEXT_MAX} 个字，且不显示换行："
                         f"请写 1–{TEMPLATE_TEXT_MAX} 个字")  # fmt: skip
    async with sessions() as session:
        _conv, buyer = await _load(session, conversation_id)
    default = {"thing1": {"value": fit("thing1", text)}}
    values = {"content": text, "staff": staff.name}
    data, url = book.data(TEMPLATE_PURPOSE, values, default) if book else (default, None)
    try:
        await api.send_template(buyer.openid, template_id, data, url)
    except WeChatAPIError as exc:
        raise InboxError(f"模板消息发送失败（错误码 {exc.errcode}）") from None
    message_id = await _record(
        sessions, conversation_id, buyer.openid, staff, channel=channels.TEMPLATE,
        msgtype="template", content=text, now=now, on_recorded=on_recorded,
    )  # fmt: skip
    return int(message_id or 0)
