"""WeChat's delivery rules in one place: which channel may reach a buyer now, and what to do
when WeChat says otherwise.

A customer-service message reaches a buyer only inside the 48-hour window after their last
action, and at most 5 of them per window; outside it (or with the quota spent) only a
template message can, and only where the account has a template for the purpose. Every
sender — tier notices (``members/tier_notices.py``) and campaign delivery
(``scheduler/sender.py``) — asks ``route`` for the channels to try, in order, and
``window_closed`` whether an error means WeChat's own bookkeeping says the window or quota
is gone (45015, 45047), so the next channel should be tried.

This module sends nothing and keeps no counts: callers pass what they know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=48)  # WeChat's customer-service window after the buyer's last action
CUSTOM_QUOTA = 5  # customer-service messages per 48-hour window
CUSTOM, TEMPLATE = "custom", "template"
OUT_OF_WINDOW, OVER_QUOTA = 45015, 45047


@dataclass(frozen=True, slots=True)
class Route:
    """The channels to try for one message to one buyer, in order (none: skip it)."""

    channels: tuple[str, ...]
    in_window: bool

    @property
    def skip_reason(self) -> str:
        """Why nothing may be sent, when ``channels`` is empty."""
        return "quota_exhausted" if self.in_window else "outside_window"


def in_window(last_interaction_at: datetime | None, now: datetime) -> bool:
    """Whether the buyer acted within the last 48 hours."""
    return last_interaction_at is not None and now - last_interaction_at < WINDOW


def route(
    last_interaction_at: datetime | None,
    now: datetime,
    *,
    has_template: bool,
    custom_used: int = 0,
) -> Route:
    """The channels WeChat allows now: customer-service inside the window while the quota
    lasts, then a template message where there is a template."""
    window = in_window(last_interaction_at, now)
    channels: list[str] = []
    if window and custom_used < CUSTOM_QUOTA:
        channels.append(CUSTOM)
    if has_template:
        channels.append(TEMPLATE)
    return Route(tuple(channels), window)


def window_closed(errcode: int | None) -> bool:
    """WeChat refused a customer-service message because the window or quota is gone."""
    return errcode in (OUT_OF_WINDOW, OVER_QUOTA)


def closed_reason(errcode: int | None) -> str:
    """The skip reason for a customer-service message WeChat refused (see window_closed)."""
    return "outside_window" if errcode == OUT_OF_WINDOW else "quota_exhausted"
