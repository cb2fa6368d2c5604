"""WeChat's delivery rules in one place: which channel may carry which kind of message to a
buyer now, and what to do when WeChat says otherwise.

Two kinds of message, as the platform's rules tell them apart:

- a *service notice* (a tier change, a statement, a reminder the buyer asked for, an answer to
  the buyer) may go as a customer-service message inside the 48-hour window after the buyer's
  last action (at most 5 per window), else as a template message where the account may send
  them (verified service accounts) and has a template for the purpose;
- *marketing* (livestream announcements, recalls, broadcasts) goes as a customer-service
  message inside the window, else by mass send while the buyer's monthly allowance lasts
  (4 a calendar month on a service account; a subscription account mass-sends once a day,
  account-wide) — and never as a template message: the platform forbids marketing there and
  takes the template permission away from accounts that do it.

Every sender — tier notices (``members/tier_notices.py``), staff replies (``inbox/``) and
campaign delivery (``scheduler/sender.py``) — asks ``route`` for the channels to try, in
order, and ``window_closed`` whether an error means WeChat's own bookkeeping says the window
or quota is gone (45015, 45047), so the next channel should be tried.

This module sends nothing and keeps no counts: callers pass what they know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(hours=48)  # WeChat's customer-service window after the buyer's last action
CUSTOM_QUOTA = 5  # customer-service messages per 48-hour window
CUSTOM, TEMPLATE, MASS = "custom", "template", "mass"
SERVICE, MARKETING = "service", "marketing"  # message kinds
OUT_OF_WINDOW, OVER_QUOTA = 45015, 45047
MASS_TEXT_MAX = 300  # characters of a mass-sent text (the platform refuses longer ones)


@dataclass(frozen=True, slots=True)
class Account:
    """What the Official Account may send, from ``[wechat] account_type`` and ``verified``."""

    account_type: str = "service"
    verified: bool = True
    mass_per_follower_month: int = 4
    mass_per_day: int = 1
    mass_calls_per_day: int = 100

    @classmethod
    def of(cls, wechat: Any) -> Account:
        """The account described by a ``WeChatConfig`` (defaults for anything missing)."""
        return cls(
            getattr(wechat, "account_type", "service"),
            getattr(wechat, "verified", True),
            getattr(wechat, "mass_per_follower_month", 4),
            getattr(wechat, "mass_per_day", 1),
            getattr(wechat, "mass_calls_per_day", 100),
        )

    @property
    def templates(self) -> bool:
        """Template messages exist for verified service accounts only."""
        return self.account_type == "service" and self.verified

    @property
    def mass_per_buyer(self) -> bool:
        """Mass sends are counted per follower and month (service) or per day (subscription)."""
        return self.account_type == "service"


SERVICE_ACCOUNT = Account()


@dataclass(frozen=True, slots=True)
class Route:
    """The channels to try for one message to one buyer, in order (none: skip it)."""

    channels: tuple[str, ...]
    in_window: bool
    kind: str = SERVICE

    @property
    def skip_reason(self) -> str:
        """Why nothing may be sent, when ``channels`` is empty."""
        if self.kind == MARKETING:  # the mass allowance was the last way
            return "mass_quota"
        return "quota_exhausted" if self.in_window else "outside_window"


def in_window(last_interaction_at: datetime | None, now: datetime) -> bool:
    """Whether the buyer acted within the last 48 hours."""
    return last_interaction_at is not None and now - last_interaction_at < WINDOW


def route(
    last_interaction_at: datetime | None,
    now: datetime,
    *,
    kind: str = SERVICE,
    has_template: bool = False,
    custom_used: int = 0,
    mass_left: bool = False,
    account: Account = SERVICE_ACCOUNT,
) -> Route:
    """The channels WeChat allows now for a message of `kind`: customer-service inside the
    window while the quota lasts, then a template message (service notices, where the account
    may send them and has a template) or a mass send (marketing, while `mass_left`)."""
    window = in_window(last_interaction_at, now)
    channels: list[str] = []
    if window and custom_used < CUSTOM_QUOTA:
        channels.append(CUSTOM)
    if kind == MARKETING:
        if mass_left and not channels:
            channels.append(MASS)
    elif has_template and account.templates:
        channels.append(TEMPLATE)
    return Route(tuple(channels), window, kind)


def window_closed(errcode: int | None) -> bool:
    """WeChat refused a customer-service message because the window or quota is gone."""
    return errcode in (OUT_OF_WINDOW, OVER_QUOTA)


def closed_reason(errcode: int | None) -> str:
    """The skip reason for a customer-service message WeChat refused (see window_closed)."""
    return "outside_window" if errcode == OUT_OF_WINDOW else "quota_exhausted"


def mass_text_problem(text: str) -> str | None:
    """Why `text` cannot be mass-sent (in the staff's words), or None."""
    if len(text) > MASS_TEXT_MAX:
        return f"群发消息最多 {MASS_TEXT_MAX} 字，这条有 {len(text):,} 字，请删减后再发"
    return None
