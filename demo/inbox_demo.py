"""Demo conversations for ``laoke demo``'s 收件箱: a few buyers waiting for staff.

Listed in ``demo.demo.DEMO_SEEDERS``; runs once per data folder (nothing is added when any
conversation exists). Deterministic: the buyers are the first subscribed demo buyers by id.
Seeded: two buyers waiting (one for 25 minutes, one since this morning and asking for a
person), one already answered by staff, one whose 48-hour window has closed, and three
quick replies. Not used outside the demo.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from inbox.conversations import hand_over, record_bot_reply, record_staff_reply
from inbox.models import Conversation
from inbox.quick import add_quick_reply

ACK = "收到，已经转给我们的客服同事，客服会尽快回复您，请稍等。"
QUICK = (
    ("发货时间", "{称呼}您好，现货订单 48 小时内发出，发出后会把单号发给您。"),
    ("起批量", "{称呼}您好，我们 50 件起批，可以混款；{等级}会员另有折扣。"),
    ("开票", "可以开增值税普通发票和专用发票，下单时备注开票信息即可。"),
)
# (minutes since the buyer's last message, messages, asked for a person, staff answer)
SCRIPTS = (
    (25, ["发货了吗", "昨天拍的那单"], False, None),
    (190, ["人工客服", "我想改一下收货地址"], True, None),
    (300, ["这款有没有黑色"], False, "有的，黑色现货，今天下单明天发。"),
    (3 * 24 * 60, ["能开专票吗"], False, None),  # the window has closed
)


async def seed_demo_inbox(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Conversation)):
            return
        buyers = (
            await session.scalars(
                select(Buyer)
                .where(Buyer.subscribed.is_(True), Buyer.display_name.is_not(None))
                .order_by(Buyer.id)
                .limit(len(SCRIPTS))
            )
        ).all()
        for buyer, (minutes, texts, person, answer) in zip(buyers, SCRIPTS, strict=False):
            at = now - timedelta(minutes=minutes)
            buyer.last_interaction_at = at
            handoff = None
            for i, text in enumerate(texts):
                handoff = await hand_over(
                    session, buyer, text, at + timedelta(seconds=20 * i), person=person and i == 0
                )
                if handoff.acknowledge:
                    record_bot_reply(session, handoff.conversation, ACK, at)
            if answer and handoff is not None:
                await session.flush()
                await record_staff_reply(
                    session, handoff.conversation.id, staff_id=0, staff_name="演示客服",
                    content=answer, msgtype="text", outbound_id=None,
                    now=at + timedelta(minutes=4),
                )  # fmt: skip
                handoff.conversation.assigned_to = None
        for title, body in QUICK:
            add_quick_reply(session, title, body, None, now)
