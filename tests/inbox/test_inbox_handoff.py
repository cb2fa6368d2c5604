"""Handoff through the real webhook: the buyer is told once per conversation, in words that
match the business hours, and every later message lands in the staff thread."""

from __future__ import annotations

from sqlalchemy import select

from inbox.models import Conversation, InboxMessage


async def _thread(bot) -> list[tuple[str, str]]:
    async with bot.sessionmaker() as session:
        rows = (await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all()
    return [(m.author, m.content) for m in rows]


async def test_within_hours_the_buyer_is_acknowledged_once(wechat):
    first = await wechat.send_text("oShip", "发货了吗")
    assert "客服会尽快回复您" in first
    assert await wechat.send_text("oShip", "急") is None  # no second acknowledgement
    assert "会员" in await wechat.send_text("oShip", "我是什么会员")  # the bot still answers
    thread = await _thread(wechat)
    assert [a for a, _ in thread] == ["buyer", "bot", "buyer", "buyer", "bot"]
    assert thread[0][1] == "发货了吗" and thread[2][1] == "急"
    async with wechat.sessionmaker() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.waiting_since is not None and not conv.requested_person


async def test_outside_hours_the_buyer_is_told_when(make_wechat, clock):
    bot = await make_wechat(inbox={"business_hours": "09:00-18:00"})
    clock.advance(hours=10)  # Monday 20:00 in Beijing
    reply = await bot.send_text("oLate", "找老板")
    assert "明天 09:00后回复您" in reply.replace(" 后", "后")
    async with bot.sessionmaker() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.requested_person


async def test_a_buyer_with_no_conversation_is_not_recorded(wechat, clock):
    await wechat.send_text("oPlain", "我是什么会员")
    clock.advance(minutes=1)
    assert await _thread(wechat) == []


async def test_deleting_my_data_removes_the_inbox_copy(wechat):
    await wechat.send_text("oForget", "我的手机号是 13800001234，发货了吗")
    assert await _thread(wechat)
    assert "确认删除" in await wechat.send_text("oForget", "删除我的资料")
    assert "已删除" in await wechat.send_text("oForget", "确认删除")
    assert await _thread(wechat) == []
    async with wechat.sessionmaker() as session:
        conv = await session.scalar(select(Conversation))
    assert conv.status == "done" and conv.last_message == ""


async def test_with_transfer_to_wechat_kf_the_callback_answer_transfers(make_wechat):
    bot = await make_wechat(inbox={"transfer_to_wechat_kf": True})
    assert await bot.send_text("oKf", "发货了吗") == "transfer_customer_service"
    assert await bot.send_text("oKf", "急") == "transfer_customer_service"
    assert "会员" in await bot.send_text("oKf", "我是什么会员")  # the bot still answers these
    assert [a for a, _ in await _thread(bot)] == ["buyer", "buyer", "buyer", "bot"]
