"""What a handler receives (one Context) and what it returns (a Reply).

The context carries the buyer row, the parsed message, the database session (one
transaction per inbound message, committed by the webhook after the reply is stored; the
webhook opens it on first use of ``ctx.session``) and the services (renderer, WeChat API client, clock, configuration). Handlers reach services only
through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from wechatpy.messages import BaseMessage

from bot.models import Buyer
from bot.wechat.template_messages import TemplateMessageBook

if TYPE_CHECKING:
    import aiohttp

    from bot.clock import Clock
    from bot.config import Config
    from bot.dialog.rendering import Renderer
    from bot.metrics import Metrics
    from bot.wechat.client import WeChatAPI


# The stored reply that answers WeChat with ``<MsgType>transfer_customer_service</MsgType>``:
# the message goes to the account's own WeChat customer-service system. Never sent as text.
TRANSFER_TO_KF = "[[transfer_customer_service]]"


@dataclass
class Reply:
    """A text reply; ``text=None`` answers WeChat with `success` and sends nothing."""

    text: str | None

    @classmethod
    def nothing(cls) -> Reply:
        return cls(None)

    @classmethod
    def transfer_to_kf(cls) -> Reply:
        """Hand the message to WeChat's customer-service system (see TRANSFER_TO_KF)."""
        return cls(TRANSFER_TO_KF)


@dataclass
class Services:
    """The long-lived services a handler may use (built by ``bot.services.open_services``)."""

    config: Config
    renderer: Renderer
    api: WeChatAPI
    clock: Clock
    metrics: Metrics
    # The HTTP client session the API client talks over (None where nothing is sent).
    http: aiohttp.ClientSession | None = None
    # Template-message ids and field layouts per purpose (config, overridden at runtime).
    template_messages: TemplateMessageBook = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.template_messages is None:
            wechat = getattr(self.config, "wechat", None)
            self.template_messages = TemplateMessageBook(getattr(wechat, "template_ids", {}))


@dataclass(init=False)
class Context:
    message: BaseMessage  # wechatpy's message (TextMessage, SubscribeEvent …)
    buyer: Buyer
    services: Services
    dialog_state: str | None
    match: re.Match[str] | None
    # Free-form scratch space a reply hook can read (e.g. "card reminder already shown").
    notes: dict[str, Any]

    def __init__(
        self,
        message: BaseMessage | None,
        buyer: Buyer,
        session: AsyncSession | None = None,
        services: Services | None = None,  # type: ignore[assignment]
        dialog_state: str | None = None,
        match: re.Match[str] | None = None,
        notes: dict[str, Any] | None = None,
        *,
        open_session: Callable[[], AsyncSession] | None = None,
    ) -> None:
        self.message, self.buyer, self.services = message, buyer, services  # type: ignore[assignment]
        self.dialog_state, self.match = dialog_state, match
        self.notes = {} if notes is None else notes
        self._session, self._open_session = session, open_session

    # --- the database -----------------------------------------------------------------
    @property
    def session(self) -> AsyncSession:
        """The message's session. Given `open_session` instead of a session, it is opened on
        first use: most messages only render a reply and never need one."""
        if self._session is None and self._open_session is not None:
            self._session = self._open_session()
        return self._session  # type: ignore[return-value]

    @property
    def opened_session(self) -> AsyncSession | None:
        """The session if a handler (or the webhook) has opened it, else None."""
        return self._session

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
