"""What the 总览 page reads besides the figures: the setup checklist and the drill-down rows.

The figures themselves are ``insights`` (``insights.dashboard.dashboard``, and
``insights.drill.figure_buyers`` for the ids behind one); this module only names the buyers of
a page of ids and tells whether the account is set up enough to have figures at all. It
computes no figure and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer, InboundMessage
from members.orders import Order


class Setup(NamedTuple):
    """The empty state's checklist: what has happened on this account so far."""

    has_buyers: bool
    connected: bool  # WeChat has delivered at least one message or event
    orders_imported: bool
    qr_scene_used: bool  # some follow came through a QR code with a scene


@dataclass(frozen=True)
class BuyerRow:
    id: int
    name: str
    company: str
    tier_key: str | None
    subscribed: bool


async def setup_state(session: AsyncSession) -> Setup:
    async def any_row(query) -> bool:
        return bool(await session.scalar(select(exists(query))))

    return Setup(
        has_buyers=await any_row(select(Buyer.id)),
        connected=await any_row(select(InboundMessage.id)),
        orders_imported=await any_row(select(Order.id)),
        qr_scene_used=await any_row(select(Buyer.id).where(Buyer.qr_scene.is_not(None))),
    )


async def buyer_rows(session: AsyncSession, ids: list[int]) -> list[BuyerRow]:
    """The buyers of `ids`, in the order given (ids that no longer exist are left out)."""
    if not ids:
        return []
    rows = await session.execute(
        select(Buyer.id, Buyer.display_name, Buyer.company, Buyer.tier_key, Buyer.subscribed).where(
            Buyer.id.in_(ids)
        )
    )
    found = {
        r.id: BuyerRow(r.id, r.display_name or "", r.company or "", r.tier_key, r.subscribed)
        for r in rows
    }
    return [found[i] for i in ids if i in found]
