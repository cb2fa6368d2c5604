"""Handoff through the real webhook: the buyer is told once per conversation, in words that
match the business hours, and every later message lands in the staff thread."""

from __future__ import annotations

from sqlalchemy import select

from inbox.conversations import record_staff_reply
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


async def test_a_buyer_writing_into_the_silence_hears_again_when_staff_answer(wechat, clock):
    assert "客服会尽快回复您" in await wechat.send_text("oWait", "发货了吗")
    clock.advance(minutes=29)
    assert await wechat.send_text("oWait", "急") is None  # too soon to say it again
    clock.advance(minutes=1)
    again = await wechat.send_text("oWait", "急")
    assert "会尽快回复您" in again and "已收到" in again
    clock.advance(minutes=5)
    assert await wechat.send_text("oWait", "急") is None  # at most once per 30 minutes
    authors = [a for a, _ in await _thread(wechat)]
    assert authors == ["buyer", "bot", "buyer", "buyer", "bot", "buyer"]


async def test_at_night_the_second_acknowledgement_says_when_staff_are_in(make_wechat, clock):
    bot = await make_wechat(inbox={"business_hours": "09:00-18:00"})
    clock.advance(hours=12)  # Monday 22:00 in Beijing
    assert "明天 09:00" in await bot.send_text("oNight", "发货了吗")
    clock.advance(minutes=45)
    again = await bot.send_text("oNight", "有人吗，急")
    assert "下班时间" in again and "明天 09:00后回复您" in again.replace(" 后", "后")


async def test_a_recent_staff_reply_keeps_the_bot_quiet(wechat, clock):
    await wechat.send_text("oChat", "发货了吗")
    clock.advance(minutes=40)
    async with wechat.sessionmaker() as session, session.begin():
        conv = await session.scalar(select(Conversation))
        await record_staff_reply(
            session, conv.id, staff_id=1, staff_name="小张", content="今天发",
            msgtype="text", outbound_id=None, now=clock.now(),
        )  # fmt: skip
    clock.advance(minutes=5)
    assert await wechat.send_text("oChat", "急") is None  # staff are talking to the buyer
    clock.advance(minutes=25)
    assert "已收到" in await wechat.send_text("oChat", "急")


async def test_with_no_quiet_while_set_the_buyer_is_told_only_once(make_wechat, clock):
    bot = await make_wechat(inbox={"reacknowledge_after_minutes": 0})
    assert "客服会尽快回复您" in await bot.send_text("oOnce", "发货了吗")
    clock.advance(hours=5)
    assert await bot.send_text("oOnce", "急") is None
