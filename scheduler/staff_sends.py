"""Test sends: an operator binds their own WeChat and sends any campaign step to themselves.

Binding: the console asks ``new_bind_code`` for a one-time code (``LK`` + 6 digits, valid
``CODE_TTL``); the operator sends that code as a message to the Official Account, and the bot
(``handlers/staff_bind.py``) calls ``bind_by_code`` with the sender's openid. The binding is
a row of ``staff_wechat_bindings`` per staff account.

Sending: ``send_test`` renders the step for the operator's own buyer row (the account knows
them as a buyer once they wrote to it) and sends it as a customer-service message, under the
same 48-hour window and quota rule as every other send (``bot/wechat/channels.py``). A test
send never uses a template message and never touches the campaign's deliveries or report.
``send_mass_preview`` shows the step as buyers outside the window get it — the one mass-sent
text — through WeChat's ``message/mass/preview`` (no window needed, the platform shows it as a
mass message).
This module does not decide who may test-send (the console's roles do) nor audit it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.dialog.context import Services
from bot.models import Base, Buyer, OutboundMessage
from bot.sandbox import RenderError, render_off_loop
from bot.wechat.channels import CUSTOM, MASS, mass_text_problem, route
from bot.wechat.client import WeChatAPIError
from bot.wechat.mass import mass_preview
from scheduler.mass_delivery import ANYONE
from scheduler.messages import CampaignMessages
from scheduler.models import Campaign, CampaignStep

CODE_TTL = timedelta(minutes=10)
CODE_RE = re.compile(r"^\s*(LK\d{6})\s*$", re.IGNORECASE)
PURPOSE = "test_send"


class StaffWechatBinding(Base):
    """A staff account's own WeChat (openid), bound by a one-time code it sent the account."""

    __tablename__ = "staff_wechat_bindings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str | None] = mapped_column(String(16))
    code_expires_at: Mapped[datetime | None]
    openid: Mapped[str | None] = mapped_column(String(64))
    bound_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("code", name="uq_staff_wechat_bindings_code"),)


class SendRefused(Exception):
    """Why a test send did not go out, in words for the operator (Chinese)."""


@dataclass(frozen=True)
class StaffSent:
    openid: str
    text: str


async def new_bind_code(session: AsyncSession, user_id: int, now: datetime) -> str:
    """A fresh one-time code for `user_id` (an earlier unused code stops working)."""
    row = await session.get(StaffWechatBinding, user_id)
    if row is None:
        row = StaffWechatBinding(user_id=user_id)
        session.add(row)
    while True:
        code = f"LK{secrets.randbelow(10**6):06d}"
        taken = await session.scalar(
            select(StaffWechatBinding.user_id).where(StaffWechatBinding.code == code)
        )
        if taken is None or taken == user_id:
            break
    row.code, row.code_expires_at = code, now + CODE_TTL
    await session.flush()
    return code


async def bind_by_code(session: AsyncSession, text: str, openid: str, now: datetime) -> int | None:
    """Bind `openid` to the account whose unexpired code `text` is; its user id, or None."""
    match = CODE_RE.match(text or "")
    if match is None:
        return None
    row = await session.scalar(
        select(StaffWechatBinding).where(StaffWechatBinding.code == match.group(1).upper())
    )
    if row is None or row.code_expires_at is None or row.code_expires_at <= now:
        return None
    row.openid, row.bound_at, row.code, row.code_expires_at = openid, now, None, None
    await session.flush()
    return row.user_id


async def binding_of(session: AsyncSession, user_id: int) -> StaffWechatBinding | None:
    return await session.get(StaffWechatBinding, user_id)


async def send_test(
    session: AsyncSession,
    services: Services,
    campaign: Campaign,
    step: CampaignStep,
    user_id: int,
) -> StaffSent:
    """Send `step` as rendered for the operator to their bound WeChat (SendRefused)."""
    openid, now = await _bound_openid(session, user_id), services.clock.now()
    me = await session.scalar(select(Buyer).where(Buyer.openid == openid))
    if me is None or not me.subscribed:
        raise SendRefused("请先用此微信关注公众号并发一条消息")
    since = me.last_interaction_at or now
    used = await session.scalar(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            OutboundMessage.openid == openid,
            OutboundMessage.channel == CUSTOM,
            OutboundMessage.created_at >= since,
        )
    )
    if CUSTOM not in route(me.last_interaction_at, now, has_template=False,
                           custom_used=int(used or 0)).channels:  # fmt: skip
        raise SendRefused("请先用此微信给公众号发一条消息（客服消息只能在 48 小时内发送）")
    messages = CampaignMessages.from_services(services)
    try:
        text = await render_off_loop(lambda: messages.render(campaign, step, me))
    except RenderError as exc:
        raise SendRefused(f"消息无法生成：{exc}") from None
    errcode = await _send_and_record(
        session, services, openid, CUSTOM, text, services.api.send_text(openid, text)
    )
    if errcode is not False:
        raise SendRefused(f"微信拒绝了这条消息（错误码 {errcode or '超时'}）")
    return StaffSent(openid, text)


async def send_mass_preview(
    session: AsyncSession,
    services: Services,
    campaign: Campaign,
    step: CampaignStep,
    user_id: int,
) -> StaffSent:
    """Send `step`'s mass-sent text to the operator's bound WeChat as a mass preview."""
    openid = await _bound_openid(session, user_id)
    messages = CampaignMessages.from_services(services)
    try:
        text = await render_off_loop(lambda: messages.render(campaign, step, ANYONE))
    except RenderError as exc:
        raise SendRefused(f"消息无法生成：{exc}") from None
    if problem := mass_text_problem(text):
        raise SendRefused(problem)
    errcode = await _send_and_record(
        session, services, openid, MASS, text, mass_preview(services.api, openid, text)
    )
    if errcode is not False:
        raise SendRefused(f"微信拒绝了群发预览（错误码 {errcode or '超时'}）")
    return StaffSent(openid, text)


async def _bound_openid(session: AsyncSession, user_id: int) -> str:
    binding = await session.get(StaffWechatBinding, user_id)
    if binding is None or not binding.openid:
        raise SendRefused("请先绑定您的微信：获取绑定码并用微信发给公众号")
    return binding.openid


async def _send_and_record(
    session: AsyncSession, services: Services, openid: str, channel: str, text: str, call
) -> int | None | bool:
    """Await the send `call` and keep it as an outbound message; False when it went out,
    else WeChat's errcode (None: no answer)."""
    result, errcode = "ok", None
    try:
        await call
    except WeChatAPIError as exc:
        result, errcode = "failed", exc.errcode
    session.add(
        OutboundMessage(
            openid=openid, channel=channel, purpose=PURPOSE, content=text,
            created_at=services.clock.now(), result=result, errcode=errcode,
        )
    )  # fmt: skip
    await session.flush()
    return False if result == "ok" else errcode
