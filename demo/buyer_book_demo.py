"""Demo private notes for ``laoke demo``'s buyer book: a few staff notes on buyers with a
card, so a buyer page shows its 备注 panel in use. (Tags come with the demo buyers.)

Deterministic and idempotent: the notes go on the first carded buyers by id, once (a demo
that already has notes gets none added). This module adds no buyers and sends nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from members.buyer_notes import BuyerNote

NOTES = (
    "周五电话回访，想要秋冬款样品，已寄顺丰。",
    "老客，对账期敏感，报价前先确认运费。",
    "直播间常来，喜欢先看实拍视频再下单。",
    "介绍了两家同城店铺过来，可以给返利。",
)


async def seed_buyer_notes(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(BuyerNote)):
            return
        ids = list(
            await session.scalars(
                select(Buyer.id)
                .where(Buyer.card_completed_at.is_not(None))
                .order_by(Buyer.id)
                .limit(len(NOTES))
            )
        )
        for i, (buyer_id, body) in enumerate(zip(ids, NOTES, strict=False)):
            session.add(BuyerNote(buyer_id=buyer_id, author_id=None, author_name="演示运营",
                                  body=body, created_at=now - timedelta(days=i + 1)))  # fmt: skip
