"""退订 / 订阅 through the real webhook: the flag the delivery engine reads, and the replies."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Buyer


async def opted_out(wechat, openid: str) -> bool:
    async with wechat.sessionmaker() as session:
        return await session.scalar(select(Buyer.opted_out).where(Buyer.openid == openid))


async def test_optout_stops_campaign_pushes_and_says_replies_still_work(wechat):
    reply = await wechat.send_text("oBuyerA", "退订")
    assert "已为您退订活动推送" in reply
    assert "回复「订阅」" in reply
    assert await opted_out(wechat, "oBuyerA") is True


async def test_replies_still_work_after_optout(wechat):
    await wechat.send_text("oBuyerA", "退订")
    reply = await wechat.send_text("oBuyerA", "帮助")
    assert "退订" in reply  # the help text still answers
    assert await opted_out(wechat, "oBuyerA") is True


async def test_optout_twice_says_already_opted_out(wechat):
    await wechat.send_text("oBuyerA", "退订")
    assert "您已退订活动推送" in await wechat.send_text("oBuyerA", "退订")


async def test_subscribe_resumes_pushes(wechat):
    await wechat.send_text("oBuyerA", "退订")
    reply = await wechat.send_text("oBuyerA", "订阅")
    assert "已为您恢复活动推送" in reply
    assert await opted_out(wechat, "oBuyerA") is False


async def test_subscribe_without_optout_says_already_subscribed(wechat):
    assert "您已订阅活动推送" in await wechat.send_text("oBuyerB", "订阅")
    assert await opted_out(wechat, "oBuyerB") is False


async def test_optout_works_in_the_middle_of_the_card_dialog(wechat):
    await wechat.send_text("oBuyerC", "名片")  # the card dialog starts with its consent notice
    reply = await wechat.send_text("oBuyerC", "退订")
    assert "退订" in reply
    assert await opted_out(wechat, "oBuyerC") is True
