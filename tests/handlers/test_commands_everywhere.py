"""Commands are honoured wherever the buyer is: with a conversation open in the staff inbox,
in the middle of the card dialog, and spoken (WeChat's voice recognition); what the bot did
shows in the staff thread."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Buyer
from inbox.models import InboxMessage


async def opted_out(bot, openid: str) -> bool:
    async with bot.sessionmaker() as session:
        return await session.scalar(select(Buyer.opted_out).where(Buyer.openid == openid))


async def thread(bot) -> list[tuple[str, str]]:
    async with bot.sessionmaker() as session:
        rows = (await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all()
    return [(m.author, m.content) for m in rows]


async def test_an_opt_out_inside_an_open_conversation_is_honoured_and_shown_to_staff(wechat):
    assert "客服会尽快回复您" in await wechat.send_text("oOpen", "发货了吗")
    reply = await wechat.send_text("oOpen", "以后别给我推送活动了")
    assert "已为您退订" in reply
    assert await opted_out(wechat, "oOpen")
    assert (await thread(wechat))[-2:] == [
        ("buyer", "以后别给我推送活动了"),
        ("bot", reply),
    ]


async def test_inside_an_open_conversation_opt_in_tier_and_livestream_are_answered(wechat):
    await wechat.send_text("oBack", "退订")
    await wechat.send_text("oBack", "上次那批货质量有问题")  # handed to staff
    assert "已为您恢复" in await wechat.send_text("oBack", "我上次手快点了退订现在后悔了…重新打开")
    assert not await opted_out(wechat, "oBack")
    assert "会员" in await wechat.send_text("oBack", "我现在是什么级别的会员")
    assert "直播" in await wechat.send_text("oBack", "下次直播啥时候")


async def test_a_refund_question_with_the_word_opt_out_in_it_is_for_staff(wechat):
    await wechat.send_text("oRefund", "发货了吗")
    assert await wechat.send_text("oRefund", "我退订的那批货钱退了没") is None  # staff answer
    assert not await opted_out(wechat, "oRefund")
    assert (await thread(wechat))[-1] == ("buyer", "我退订的那批货钱退了没")


async def test_a_spoken_opt_out_is_understood_and_the_thread_shows_it_was_voice(wechat):
    await wechat.send_text("oVoice", "发货了吗")
    reply = await wechat.send_message(
        "oVoice", "voice", MediaId="media-1", Format="amr", Recognition="以后别给我推送活动了"
    )
    assert "已为您退订" in reply and await opted_out(wechat, "oVoice")
    assert ("buyer", "「语音」以后别给我推送活动了") in await thread(wechat)


async def test_inside_the_card_dialog_an_opt_out_is_done_and_a_refusal_is_not(wechat):
    await wechat.send_text("oCard", "名片")
    assert "怎么称呼您" in await wechat.send_text("oCard", "同意")
    assert not await opted_out(wechat, "oCard")
    reply = await wechat.send_text("oCard", "以后别给我推送活动了")
    assert "已为您退订" in reply and await opted_out(wechat, "oCard")
    assert "继续" in reply  # the card is offered to continue
    await wechat.send_text("oCard", "订阅")
    await wechat.send_text("oCard", "继续")
    await wechat.send_text("oCard", "不要退订")  # an answer to the name question, no opt-out
    assert not await opted_out(wechat, "oCard")
