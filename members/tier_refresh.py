"""One buyer's figures and tier, refreshed while they are writing.

When a buyer's card is confirmed or edited, the orders carrying their account name or phone
are linked to them (``members.orders.link_orders_for_buyer``) and, if any were, their figures
and tier are recomputed at once; a change to announce goes into this very reply
(``members.tier_notices.stash_notice``). Everyone at once, at night, is
``members/tier_recompute.py``. This module sends nothing itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from members.orders import link_orders_for_buyer, store_buyer_figures
from members.tier_notices import stash_notice
from members.tiers import (
    NOTICE_PENDING,
    TierChange,
    apply_change,
    current_ladder,
    decision_for,
    window_start,
)

if TYPE_CHECKING:
    from bot.dialog.context import Services


async def match_orders_for_buyer(
    session: AsyncSession, buyer: Buyer, services: Services | None = None
) -> int:
    """Link the unmatched orders carrying this buyer's platform account name or phone.

    Called when a buyer's card is confirmed or edited. Orders already linked to someone
    else are left alone. With ``services`` (the handler's ``ctx.services``), when orders were
    linked, the buyer's figures and tier are refreshed at once; without, the nightly
    recompute does it.
    Returns the number of orders linked.
    """
    linked = await link_orders_for_buyer(session, buyer)
    if services is not None and linked:
        # Nothing newly linked leaves the figures as they are: no recompute on this turn.
        await refresh_buyer_tier(session, buyer, services, in_conversation=True)
    return linked


async def refresh_buyer_tier(
    session: AsyncSession, buyer: Buyer, services: Services, *, in_conversation: bool = False
) -> TierChange | None:
    """Recompute one buyer's figures and tier (after their orders were matched).

    ``in_conversation``: the buyer is writing right now, so an announcement goes into
    this very reply (through ``buyers.pending_notice``) instead of a separate message.
    """
    now = services.clock.now()
    ladder = await current_ladder(session, services.config.tiers)
    await store_buyer_figures(session, buyer, window_start(now, ladder.config.window_months))
    change = apply_change(session, ladder, buyer, decision_for(ladder, buyer, now), now, None)
    if change is not None and in_conversation and change.notice == NOTICE_PENDING:
        stash_notice(services, ladder, buyer, change)
    await session.flush()
    return change
