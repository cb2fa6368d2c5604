"""The history the dashboard reads is written where things happen: the webhook and the card."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.inbound.events import BuyerEvent
from bot.models import Buyer
from insights.funnel import card_funnel
from insights.metrics import followers
from insights.periods import DateRange

HAPPY = ["王姐", "美美服饰", "1", "淘宝 抖音", "女装", "5万", "广州", "138 1234 5678", "meimei"]


@pytest.fixture
async def db_wechat(make_wechat, db_url):
    return await make_wechat(database={"url": db_url})


async def _events(wechat, openid: str) -> list[str]:
    async with wechat.sessionmaker() as session:
        buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
        rows = await session.scalars(
            select(BuyerEvent.kind).where(BuyerEvent.buyer_id == buyer_id).order_by(BuyerEvent.id)
        )
        return list(rows)


async def test_follows_unfollows_and_card_steps_are_dated_as_they_happen(db_wechat, clock):
    wechat = db_wechat
    await wechat.send_event("oFan", "subscribe")
    clock.advance(minutes=1)
    for text in ["名片", "同意", *HAPPY, "确认"]:
        await wechat.send_text("oFan", text)
        clock.advance(seconds=5)
    await wechat.send_event("oFan", "unsubscribe")
    clock.advance(minutes=1)
    await wechat.send_event("oFan", "subscribe")
    await wechat.send_text("oFan", "你好")  # a message is no event of the history
    assert await _events(wechat, "oFan") == [
        "follow",
        "card_invited",
        "card_consented",
        "card_confirmed",
        "unfollow",
        "follow",
    ]
    tz = ZoneInfo("Asia/Shanghai")
    today = clock.now().astimezone(tz).date()
    period = DateRange(today - timedelta(days=1), today)
    clock.advance(minutes=1)
    async with wechat.sessionmaker() as session:
        got = await followers(session, period, "day", tz, clock)
        funnel = await card_funnel(session, period, "day", tz, clock)
    assert got.kpis["follows"].value == 1 and got.kpis["unfollows"].value == 1
    assert got.kpis["followers"].value == 1
    assert [s.buyers for s in funnel.stages] == [1, 1, 1, 1, 0]
