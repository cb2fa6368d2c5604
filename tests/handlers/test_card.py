"""The business card, scripted through the real webhook as WeChat would deliver it.

Every path a buyer can take: consent (and declining it), the happy path, one sentence that
answers several questions, skips, 上一步, 退出 and coming back days later, a form left
untouched for a week, another command in the middle, repeated wrong answers, 修改名片,
删除我的资料, the weekly reminder, two messages at once, and random input.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.dialog.forms.store import FormState
from bot.models import Buyer, InboundMessage, OutboundMessage
from handlers.card import CARD
from members.card.profile import card_values

SENTENCE = "我在淘宝卖女装，每月拿货5万左右，广州的"
HAPPY = ["王姐", "美美服饰", "1", "淘宝 抖音", "女装", "5万", "广州", "138 1234 5678", "meimei"]


async def say(wechat, openid: str, *texts: str) -> list[str | None]:
    return [await wechat.send_text(openid, t) for t in texts]


async def buyer(wechat, openid: str) -> Buyer:
    async with wechat.sessionmaker() as session:
        return (await session.execute(select(Buyer).where(Buyer.openid == openid))).scalar_one()


async def form_state(wechat, openid: str) -> FormState | None:
    b = await buyer(wechat, openid)
    async with wechat.sessionmaker() as session:
        return await session.get(FormState, b.id)


def card_of(b: Buyer) -> dict:
    return {
        "display_name": b.display_name, "company": b.company, "business_type": b.business_type,
        "channels": b.channels, "interests": b.interests, "volume": (b.volume_min, b.volume_max),
        "province": b.province, "city": b.city, "phone": b.phone, "platform_account": b.platform_account,
    }  # fmt: skip


@pytest.fixture
async def db_wechat(make_wechat, db_url):
    """The app on SQLite, then on PostgreSQL."""
    return await make_wechat(database={"url": db_url})


async def test_happy_path_collects_every_field_and_confirms(db_wechat, clock):
    wechat = db_wechat
    notice = await wechat.send_text("oHappy", "名片")
    assert "同意" in notice and "删除我的资料" in notice
    first = await wechat.send_text("oHappy", "同意")
    assert "怎么称呼您" in first
    replies = await say(wechat, "oHappy", *HAPPY)
    assert "公司或店铺" in replies[0] and "哪种生意" in replies[1]
    assert "信息对吗" in replies[-1] and "月采购量：5万" in replies[-1]
    assert "地区：广东省 广州市" in replies[-1]
    done = await wechat.send_text("oHappy", "确认")
    assert "名片交换成功" in done and "王姐" in done

    b = await buyer(wechat, "oHappy")
    assert card_of(b) == {
        "display_name": "王姐", "company": "美美服饰", "business_type": "taobao",
        "channels": ["淘宝", "抖音"], "interests": ["女装"], "volume": (50000, 50000),
        "province": "广东省", "city": "广州市", "phone": "13812345678", "platform_account": "meimei",
    }  # fmt: skip
    assert b.consent_at == clock.now() and b.consent_version == "2026-11"
    assert b.card_completed_at == clock.now()
    assert await form_state(wechat, "oHappy") is None
    shown = await wechat.send_text("oHappy", "我的名片")
    assert "称呼：王姐" in shown and "手机号：13812345678" in shown
    # Asking for the card again shows it rather than starting over.
    assert "称呼：王姐" in await wechat.send_text("oHappy", "名片")


async def test_menu_click_starts_the_card(wechat):
    reply = await wechat.send_event("oMenu", "CLICK", key="CARD")
    assert "回复「同意」开始" in reply


async def test_nothing_is_stored_before_consent_and_decline_can_start_again(wechat):
    await wechat.send_text("oShy", "名片")
    # An answer before agreeing is not taken.
    again = await wechat.send_text("oShy", SENTENCE)
    assert "回复「同意」开始" in again
    b = await buyer(wechat, "oShy")
    assert b.business_type is None and b.city is None and b.consent_at is None
    declined = await wechat.send_text("oShy", "不同意")
    assert "没有记录您的任何信息" in declined
    assert await form_state(wechat, "oShy") is None
    assert (await buyer(wechat, "oShy")).consent_at is None
    # Later they change their mind.
    assert "回复「同意」开始" in await wechat.send_text("oShy", "交换名片")
    assert "怎么称呼您" in await wechat.send_text("oShy", "同意")


async def test_one_sentence_fills_several_fields_and_only_the_rest_is_asked(wechat):
    await say(wechat, "oQuick", "名片", "同意")
    reply = await wechat.send_text("oQuick", SENTENCE)
    assert "已记下：经营类型、销售渠道、主营品类、月采购量、地区" in reply
    assert "怎么称呼您" in reply  # the question it did not answer is asked again
    b = await buyer(wechat, "oQuick")
    assert (b.business_type, b.interests, b.volume_min, b.city) == (
        "taobao",
        ["女装"],
        50000,
        "广州市",
    )
    rest = await say(wechat, "oQuick", "王姐", "跳过", "跳过", "跳过")
    assert "公司或店铺" in rest[0]
    assert "手机号" in rest[1]  # type, channels, interests, volume, region were not asked
    assert "账号" in rest[2]
    assert "信息对吗" in rest[3] and "主营品类：女装" in rest[3]


async def test_a_short_answer_that_mentions_a_city_answers_the_question_asked(wechat):
    await say(wechat, "oShop", "名片", "同意", "王姐")
    reply = await wechat.send_text("oShop", "广州美美女装")
    assert "哪种生意" in reply
    b = await buyer(wechat, "oShop")
    assert b.company == "广州美美女装" and b.city is None


async def test_skip_is_for_optional_fields_and_offered_after_three_failures(wechat):
    await say(wechat, "oSkip", "名片", "同意", "王姐")
    assert "哪种生意" in await wechat.send_text("oSkip", "跳过")  # company is optional
    refused = await wechat.send_text("oSkip", "跳过")  # business type is required
    assert "需要填写" in refused and "哪种生意" in refused
    wrong = await say(wechat, "oSkip", "随便", "嗯嗯")  # the refused 跳过 counts as a try
    assert all("没认出是哪种生意" in r for r in wrong)
    assert "先跳过这一项" not in wrong[0] and "回复「跳过」先跳过这一项" in wrong[1]
    assert "哪些渠道" in await wechat.send_text("oSkip", "跳过")
    b = await buyer(wechat, "oSkip")
    assert b.company is None and b.business_type is None


async def test_back_goes_to_the_previous_question_and_replaces_its_answer(wechat):
    await say(wechat, "oBack", "名片", "同意")
    assert "怎么称呼您" in await wechat.send_text("oBack", "上一步")  # nothing before the first
    await say(wechat, "oBack", "王姐", "美美服饰")
    assert "公司或店铺" in await wechat.send_text("oBack", "上一步")
    assert "哪种生意" in await wechat.send_text("oBack", "丽丽服饰")
    assert (await buyer(wechat, "oBack")).company == "丽丽服饰"


async def test_cancel_keeps_answers_and_resumes_where_it_stopped_days_later(wechat, clock):
    await say(wechat, "oLater", "名片", "同意", "王姐", "美美服饰")
    paused = await wechat.send_text("oLater", "退出")
    assert "已填的内容都保存了" in paused
    # Outside the card, ordinary messages get ordinary answers.
    assert "回复「名片」交换名片" in await wechat.send_text("oLater", "帮助")
    clock.advance(days=10)
    back = await wechat.send_text("oLater", "名片")
    assert "欢迎回来" in back and "哪种生意" in back
    b = await buyer(wechat, "oLater")
    assert (b.display_name, b.company) == ("王姐", "美美服饰")
    assert "哪些渠道" in await wechat.send_text("oLater", "2")


async def test_a_form_untouched_for_a_week_is_offered_not_silently_continued(wechat, clock):
    await say(wechat, "oAway", "名片", "同意", "王姐")
    clock.advance(days=8)
    offer = await wechat.send_text("oAway", "在吗")
    assert "还没填完" in offer and "公司/店铺" in offer and "继续" in offer
    assert (await buyer(wechat, "oAway")).company is None  # "在吗" was not taken as the answer
    assert "公司或店铺" in await wechat.send_text("oAway", "继续")
    assert "哪种生意" in await wechat.send_text("oAway", "美美服饰")


async def test_after_the_resumption_offer_restart_asks_everything_again(wechat, clock):
    await say(wechat, "oRedo", "名片", "同意", "王姐", "美美服饰")
    clock.advance(days=9)
    assert "重新填写" in await wechat.send_text("oRedo", "你好")
    assert "怎么称呼您" in await wechat.send_text("oRedo", "重新填写")
    assert "公司或店铺" in await wechat.send_text("oRedo", "李总")
    assert (await buyer(wechat, "oRedo")).display_name == "李总"


async def test_a_card_started_elsewhere_asks_only_what_is_missing(wechat, clock):
    """Like the demo's half-way buyers: consent given, a name and a type, no form state."""
    await wechat.send_text("oHalf", "你好")
    async with wechat.sessionmaker() as session:
        b = (await session.execute(select(Buyer).where(Buyer.openid == "oHalf"))).scalar_one()
        b.consent_at, b.consent_version = clock.now(), "2026-11"
        b.display_name, b.business_type = "陈总", "wholesale"
        await session.commit()
    back = await wechat.send_text("oHalf", "名片")
    assert "欢迎回来" in back and "公司或店铺" in back
    assert "哪些渠道" in await wechat.send_text("oHalf", "跳过")  # type was not asked again


async def test_another_command_mid_card_is_answered_then_continue_is_offered(wechat):
    await say(wechat, "oMid", "名片", "同意", "王姐")
    interrupted = await wechat.send_text("oMid", "帮助")
    assert "我可以帮您" in interrupted and interrupted.endswith("回复「继续」接着填写名片。")
    assert "公司或店铺" in await wechat.send_text("oMid", "继续")
    assert "哪种生意" in await wechat.send_text("oMid", "美美服饰")


async def test_repeated_wrong_volume_gets_hints_then_the_skip_offer(wechat):
    await say(
        wechat, "oVol", "名片", "同意", SENTENCE.replace("每月拿货5万左右，", ""), "王姐", "跳过"
    )
    # Now at the phone question (volume was not in the sentence, so it was asked after region?)
    state = await form_state(wechat, "oVol")
    assert state.step == "volume"
    replies = await say(wechat, "oVol", "很多", "看情况", "不好说")
    assert all("没看懂这个金额" in r and "每月大概拿货多少钱" in r for r in replies)
    assert "回复「跳过」先跳过" not in replies[1] and "回复「跳过」先跳过" in replies[2]
    assert "手机号" in await wechat.send_text("oVol", "3-5万")
    b = await buyer(wechat, "oVol")
    assert (b.volume_min, b.volume_max) == (30000, 50000)


async def test_edit_changes_one_field_and_confirms_again(wechat):
    await say(wechat, "oEdit", "名片", "同意", *HAPPY, "确认")
    pick = await wechat.send_text("oEdit", "修改名片")
    assert "8 手机号" in pick
    assert "手机号" in await wechat.send_text("oEdit", "8")
    confirm = await wechat.send_text("oEdit", "13912345678")
    assert "手机号：13912345678" in confirm and "称呼：王姐" in confirm
    assert "名片交换成功" in await wechat.send_text("oEdit", "确认")
    b = await buyer(wechat, "oEdit")
    assert b.phone == "13912345678" and b.company == "美美服饰"


async def test_editing_one_field_asks_only_that_field_though_others_were_skipped(wechat):
    # Company, channels, volume, phone and account skipped; then 修改名片 → 1 → 张姐.
    answers = ["王姐", "跳过", "1", "跳过", "女装", "跳过", "广州", "跳过", "跳过", "确认"]
    await say(wechat, "oEdit2", "名片", "同意", *answers)
    assert "称呼" in await wechat.send_text("oEdit2", "修改名片")
    assert "怎么称呼您" in await wechat.send_text("oEdit2", "1")
    card = await wechat.send_text("oEdit2", "张姐")
    assert "信息对吗" in card and "称呼：张姐" in card
    assert "公司或店铺" not in card and "哪些渠道" not in card
    assert "名片交换成功" in await wechat.send_text("oEdit2", "确认")
    b = await buyer(wechat, "oEdit2")
    assert (b.display_name, b.company, b.phone) == ("张姐", None, None)


async def test_consent_words_are_never_taken_as_the_buyers_name(wechat):
    await say(wechat, "oAgree", "名片", "好的")
    again = await wechat.send_text("oAgree", "同意")
    assert "怎么称呼您" in again
    assert (await buyer(wechat, "oAgree")).display_name is None
    assert "公司或店铺" in await wechat.send_text("oAgree", "王姐")
    assert (await buyer(wechat, "oAgree")).display_name == "王姐"


async def test_a_required_question_skipped_again_and_again_offers_a_way_out(wechat, clock):
    await say(wechat, "oStuck", "名片", "同意")
    first, second, third = await say(wechat, "oStuck", "跳过", "跳过", "跳过")
    assert "需要填写" in first and "退出" not in first
    assert "退出" not in second
    assert "回复「退出」先离开" in third and "回复「名片」" in third
    assert "已填的内容都保存了" in await wechat.send_text("oStuck", "退出")
    clock.advance(days=2)
    assert "怎么称呼您" in await wechat.send_text("oStuck", "名片")


async def test_delete_erases_personal_fields_and_message_texts_keeping_counts(db_wechat):
    wechat = db_wechat
    await say(wechat, "oGone", "名片", "同意", *HAPPY, "确认")
    await say(wechat, "oStay", "你好")
    async with wechat.sessionmaker() as session:
        inbound_before = await session.scalar(select(func.count()).select_from(InboundMessage))
    asked = await wechat.send_text("oGone", "删除我的资料")
    assert "确认删除" in asked
    assert "已删除" in await wechat.send_text("oGone", "确认删除")

    b = await buyer(wechat, "oGone")
    assert all(v in (None, [], (None, None)) for v in card_of(b).values())
    assert b.consent_at is None and b.card_completed_at is None
    async with wechat.sessionmaker() as session:
        texts = (
            (
                await session.execute(
                    select(InboundMessage.content).where(InboundMessage.openid == "oGone")
                )
            )
            .scalars()
            .all()
        )
        out = (
            (
                await session.execute(
                    select(OutboundMessage.content)
                    .where(OutboundMessage.openid == "oGone")
                    .order_by(OutboundMessage.id)
                )
            )
            .scalars()
            .all()
        )
        total = await session.scalar(select(func.count()).select_from(InboundMessage))
        kept = await session.scalar(
            select(InboundMessage.content).where(InboundMessage.openid == "oStay")
        )
    # Every text up to the erasure is gone (only the "deleted" reply itself is stored after
    # it); the rows, which the supplier's counts are made of, remain.
    assert texts and all(t is None for t in texts)
    assert all(o is None for o in out[:-1]) and "已删除" in out[-1]
    assert total == inbound_before + 2 and kept == "你好"
    assert "还没有名片" in await wechat.send_text("oGone", "我的名片")


async def test_delete_needs_confirmation(wechat):
    await say(wechat, "oKeep", "名片", "同意", *HAPPY, "确认")
    await wechat.send_text("oKeep", "删除我的资料")
    assert "资料保留" in await wechat.send_text("oKeep", "算了")
    assert (await buyer(wechat, "oKeep")).display_name == "王姐"


async def test_incomplete_card_is_reminded_at_most_weekly_and_only_when_they_write(wechat, clock):
    assert "交换名片" in await wechat.send_event("oRemind", "subscribe")
    first = await wechat.send_text("oRemind", "帮助")
    assert "还没和您交换名片" not in first  # the welcome has just invited them
    clock.advance(days=7)
    assert "还没和您交换名片" in await wechat.send_text("oRemind", "帮助")
    clock.advance(days=3)
    assert "还没和您交换名片" not in await wechat.send_text("oRemind", "帮助")
    clock.advance(days=4)
    assert "还没和您交换名片" in await wechat.send_text("oRemind", "帮助")
    # A finished card is never nagged about.
    await say(wechat, "oRemind", "名片", "同意", *HAPPY, "确认")
    clock.advance(days=30)
    assert "还没" not in await wechat.send_text("oRemind", "你好")


async def test_declining_consent_stops_the_reminders(wechat, clock):
    await say(wechat, "oNo", "名片", "不同意")
    clock.advance(days=30)
    assert "还没和您交换名片" not in await wechat.send_text("oNo", "你好")


async def test_two_messages_at_once_never_corrupt_the_form(db_wechat):
    wechat = db_wechat
    await say(wechat, "oTwin", "名片", "同意")
    await asyncio.gather(
        wechat.send_text("oTwin", "王姐", msg_id=9_000_001),
        wechat.send_text("oTwin", "美美服饰", msg_id=9_000_002),
    )
    state = await form_state(wechat, "oTwin")
    b = await buyer(wechat, "oTwin")
    # Whatever interleaving happened, the state is one the dialog can be in and agrees
    # with the buyer row: each accepted answer is both recorded and stored.
    assert state.status == "active" and state.step in {"company", "business_type"}
    assert set(state.values) == set(state.history)
    assert state.values.get("display_name") == b.display_name
    assert state.values.get("company") == b.company
    reply = await wechat.send_text("oTwin", "继续")
    assert reply is not None


_ids = itertools.count()
WORDS = ["名片", "同意", "不同意", "跳过", "上一步", "取消", "继续", "确认", "修改", "修改名片",
         "我的名片", "删除我的资料", "确认删除", "帮助", "1", "8", "5万", "广州", "王姐", SENTENCE,
         "13812345678", "重新填写"]  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(WORDS),
            # What a WeChat text can hold: no control characters, no lone surrogates.
            st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
            st.integers(0, 40),
        ),
        min_size=1,
        max_size=12,
    )
)
async def test_random_input_never_crashes_or_leaves_an_inconsistent_state(wechat, clock, messages):
    openid = f"oRandom{next(_ids)}"
    for item in messages:
        if isinstance(item, int):
            clock.advance(days=item // 4)
            continue
        reply = await wechat.send_text(openid, item)
        assert reply is None or "开了小差" not in reply  # the sorry.j2 of an internal error
        state = await form_state(wechat, openid)
        b = await buyer(wechat, openid)
        if state is not None:
            steps = {f.key for f in CARD.fields} | {"consent", "confirm", "edit", "delete_confirm"}
            assert state.form == "card" and state.step in steps
            assert state.status in ("active", "paused")
            assert set(state.values) <= {f.key for f in CARD.fields}
            # Every answer the form holds is on the buyer row too (取消 keeps what was given).
            stored = card_values(b)
            assert all(stored.get(k) == v for k, v in state.values.items() if v is not None)
            if state.step != "consent":
                assert b.consent_at is not None or state.step == "delete_confirm"
        if b.consent_at is None:  # nothing of the card without consent
            assert b.display_name is None and b.phone is None and b.city is None


async def test_confirming_the_card_links_waiting_orders_and_announces_the_tier(make_wechat, clock):
    from members.order_import import import_orders

    tiers = {
        "levels": [
            {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000,
             "perks": ["满500减20"], "badge": "【银卡会员】"},
        ]
    }  # fmt: skip
    wechat = await make_wechat(tiers=tiers)
    # The order export arrived before the buyer told us their platform account.
    rows = [(1, ("N1", "meimei", None, "¥6,000.00", "2026-05-10 10:00", "交易成功"))]
    await import_orders(wechat.sessionmaker, rows, wechat.services.config.orders, clock.now())

    await say(wechat, "oLate", "名片", "同意", *HAPPY)
    done = await wechat.send_text("oLate", "确认")

    assert "名片交换成功" in done
    assert "银卡会员" in done and "满500减20" in done  # the upgrade rides on this reply
    b = await buyer(wechat, "oLate")
    assert (b.tier_key, b.orders_12m, b.spend_12m) == ("silver", 1, 6000.0)
