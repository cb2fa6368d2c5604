"""Hand-made histories for the dashboard's tests: buyers, events, orders, messages, in local time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.inbound.events import BuyerEvent
from bot.models import Buyer, InboundMessage
from members.orders import Order

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """A Beijing-time moment as aware UTC."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


class World:
    """Adds rows to one session; call ``await world.flush()`` before querying."""

    def __init__(self, session) -> None:
        self.session = session
        self._n = itertools.count(1)

    def buyer(self, seen: datetime, *, subscribed: bool = True, **fields) -> Buyer:
        n = next(self._n)
        b = Buyer(
            openid=f"o{n:04d}",
            first_seen_at=seen,
            subscribed=subscribed,
            tags=[],
            channels=fields.pop("channels", []),
            interests=[],
            **fields,
        )
        self.session.add(b)
        return b

    async def flush(self) -> None:
        await self.session.flush()

    def event(self, buyer: Buyer, kind: str, at: datetime) -> None:
        self.session.add(BuyerEvent(buyer_id=buyer.id, kind=kind, at=at))

    def order(self, buyer: Buyer | None, at: datetime, yuan: float, counted: bool = True) -> None:
        n = next(self._n)
        self.session.add(
            Order(
                order_no=f"N{n}",
                amount_cents=round(yuan * 100),
                ordered_at=at,
                status="交易成功" if counted else "退款成功",
                counted=counted,
                buyer_id=None if buyer is None else buyer.id,
                first_import="t",
                last_import="t",
                updated_at=at,
            )
        )

    def message(self, buyer: Buyer, at: datetime, event: str | None = None) -> None:
        n = next(self._n)
        self.session.add(
            InboundMessage(
                dedup_key=f"d{n}",
                openid=buyer.openid,
                msg_type="event" if event else "text",
                event=event,
                content=None if event else "你好",
                received_at=at,
                status="done",
            )
        )
