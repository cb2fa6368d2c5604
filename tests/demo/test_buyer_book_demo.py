"""`laoke demo` shows the buyer book in use: a few staff notes on carded buyers, once."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.models import Buyer
from demo.demo import DEMO_TIERS, seed_demo
from members.buyer_notes import BuyerNote


async def test_demo_seeds_notes_once_on_carded_buyers(sessions, make_config, clock):
    config = make_config(tiers={"levels": DEMO_TIERS})
    await seed_demo(sessions, config, clock)
    await seed_demo(sessions, config, clock)
    async with sessions() as session:
        notes = list(await session.scalars(select(BuyerNote)))
        assert len(notes) == 4
        carded = await session.scalar(
            select(func.count()).where(
                Buyer.id.in_([n.buyer_id for n in notes]), Buyer.card_completed_at.is_not(None)
            )
        )
        assert carded == 4
