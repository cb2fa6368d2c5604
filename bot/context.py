"""What a handler receives (one Context) and what it returns (a Reply).

The context carries the buyer row, the parsed message, the open database session (one
transaction per inbound message, committed by the webhook after the reply is stored) and the
services (renderer, WeChat API client, clock, configuration). Handlers reach services only
through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.config import Config
    from bot.metrics import Metrics
    from bot.rendering import Renderer
    from bot.wechat_api import WeChatAPI


@dataclass
class Reply:
    """A text reply; ``text=None`` answers WeChat with `success` and sends nothing."""

    text: str | None

    @classmethod
    def nothing(cls) -> Reply:
        return cls(None)


@dataclass
class Services:
    """The long-lived services a handler may use (built once by the app factory)."""

    config: Config
    renderer: Renderer
    api: WeChatAPI
    clock: Clock
    metrics: Metrics
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    message: Any  # a wechatpy message object (TextMessage, SubscribeEvent …)
    buyer: Buyer
    session: AsyncSession
    services: Services
    dialog_state: str | None = None
    match: re.Match[str] | None = None
    # Free-form scratch space a reply hook can read (e.g. "card reminder already shown").
    notes: dict[str, Any] = field(default_factory=dict)

    # --- the message, in the shape handlers ask about ---------------------------------
    @property
    def msg_type(self) -> str:
        return self.message.type

    @cached_property  # asked by every filter of every handler: computed once per message
    def text(self) -> str | None:
        """Text content, or the voice recognition result when speech recognition is on."""
        if self.message.type == "text":
            return self.message.content or ""
        if self.message.type == "voice":
            return getattr(self.message, "recognition", None) or None
        return None

    @property
    def event(self) -> str | None:
        return self.message.event if self.message.type == "event" else None

    @property
    def event_key(self) -> str | None:
        return getattr(self.message, "key", None) if self.message.type == "event" else None

    # --- services ---------------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def renderer(self) -> Renderer:
        return self.services.renderer

    @property
    def api(self) -> WeChatAPI:
        return self.services.api

    @property
    def clock(self) -> Clock:
        return self.services.clock

    def now(self):
        return self.services.clock.now()

    def render(self, template: str, **variables: Any) -> str:
        """Render a buyer-facing template (``messages/<template>.j2``) with the buyer in scope."""
        return self.services.renderer.render(template, buyer=self.buyer, **variables)
