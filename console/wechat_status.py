"""What 设置 → 公众号连接 shows: how WeChat reaches this server and how this server reaches WeChat.

One read of the database (the newest callback stored, the shared access_token's expiry) plus
the configuration. It shows the callback token and secrets only masked: the page is for
checking the connection, not for copying credentials. It changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.models import AccessToken, InboundMessage

# No callback for this long while buyers follow the account usually means the server URL in
# the Official Account's backend is wrong, or the server is unreachable from WeChat.
QUIET_AFTER = timedelta(hours=24)

MODES = {
    "plain": "明文模式（不推荐：消息体未签名）",
    "compat": "兼容模式（明文与密文并存，明文部分未签名）",
    "safe": "安全模式（推荐：消息加密并签名）",
}


@dataclass(frozen=True)
class WeChatStatus:
    callback_url: str
    token_masked: str
    appid: str
    mode: str
    mode_label: str
    replay_window_s: int
    api_base_url: str
    last_callback_at: datetime | None
    callback_quiet: bool  # no callback in QUIET_AFTER
    access_token_expires_at: datetime | None
    access_token_fresh: bool


def mask(secret: str) -> str:
    """The first and last two characters of `secret`, the rest hidden."""
    if len(secret) <= 6:
        return "•" * len(secret)
    return f"{secret[:2]}{'•' * (len(secret) - 4)}{secret[-2:]}"


async def wechat_status(session: AsyncSession, config: Config, now: datetime) -> WeChatStatus:
    """The connection as configured and as last seen working."""
    last = await session.scalar(select(func.max(InboundMessage.received_at)))
    token = await session.get(AccessToken, config.wechat.appid)
    base = (
        config.server.public_url.rstrip("/") or f"http://{config.server.host}:{config.server.port}"
    )
    return WeChatStatus(
        callback_url=base + config.server.webhook_path,
        token_masked=mask(config.wechat.token),
        appid=config.wechat.appid,
        mode=config.wechat.encrypt_mode,
        mode_label=MODES[config.wechat.encrypt_mode],
        replay_window_s=config.wechat.replay_window_s,
        api_base_url=config.wechat.api_base_url,
        last_callback_at=last,
        callback_quiet=last is None or now - last > QUIET_AFTER,
        access_token_expires_at=token.expires_at if token else None,
        access_token_fresh=token is not None and token.expires_at > now,
    )
