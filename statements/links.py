"""Signed, expiring links to a buyer's statement page: ``/s/<token>``.

The token names the buyer, the period and the moment it expires, signed with HMAC-SHA256
under ``[statements] link_secret`` (or a key derived from ``[wechat] secret``), so the public
page needs no session: a token whose signature or expiry fails opens nothing. Anyone holding
a valid link sees that one statement, as with any link sent in chat; links expire after
``[statements] link_days``. This module does not render pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import Config

PATH = "/s/"


class LinkError(ValueError):
    """A link that opens nothing; the message is shown to the buyer as is."""


@dataclass(frozen=True)
class LinkClaim:
    buyer_id: int
    period_key: str
    expires_at: datetime


def _key(config: Config) -> bytes:
    if config.statements.link_secret:
        return config.statements.link_secret.encode()
    return hmac.new(config.wechat.secret.encode(), b"laoke statement links", "sha256").digest()


def _signature(config: Config, payload: str) -> str:
    digest = hmac.new(_key(config), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def sign(config: Config, buyer_id: int, period_key: str, now: datetime) -> str:
    """A token for this buyer's statement of `period_key`, valid ``link_days`` from now."""
    expires = int((now + timedelta(days=config.statements.link_days)).timestamp())
    payload = f"{buyer_id}.{period_key}.{expires}"
    return f"{payload}.{_signature(config, payload)}"


def url(config: Config, buyer_id: int, period_key: str, now: datetime) -> str | None:
    """The full link (None when ``[server] public_url`` is not set: there is no address)."""
    base = config.server.public_url.rstrip("/")
    if not base:
        return None
    return f"{base}{PATH}{sign(config, buyer_id, period_key, now)}"


def verify(config: Config, token: str, now: datetime) -> LinkClaim:
    """The claim of a valid token; LinkError when it was altered or has expired."""
    parts = token.split(".")
    if len(parts) != 4 or len(token) > 120:
        raise LinkError("链接不完整，请在公众号里回复「对账」重新获取")
    buyer, key, expires, signature = parts
    if not hmac.compare_digest(_signature(config, f"{buyer}.{key}.{expires}"), signature):
        raise LinkError("链接不完整，请在公众号里回复「对账」重新获取")
    try:
        claim = LinkClaim(int(buyer), key, datetime.fromtimestamp(int(expires), UTC))
    except (ValueError, OverflowError, OSError):
        raise LinkError("链接不完整，请在公众号里回复「对账」重新获取") from None
    if claim.expires_at <= now:
        raise LinkError("链接已过期，请在公众号里回复「对账」获取新的链接")
    return claim
