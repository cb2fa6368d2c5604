"""Membership as the buyer meets it, through the real webhook: the tier card, the badge on
replies, and a waiting tier notice delivered with the next reply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tiers_fixture import tiers

from bot.models import Buyer
from members.order_import import import_orders
from members.tier_recompute import recompute_all_tiers
from members.tiers import TierChange

TIERS = tiers(min_orders=100)


@pytest.fixture
async def bot(make_wechat):
    return await make_wechat(tiers=TIERS)


async def set_buyer(bot, openid: str, **fields) -> None:
    """The buyer exists once they wrote; then give them figures, a tier, a notice …"""
    await bot.send_text(openid, "你好")
    async with bot.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
        for name, value in fields.items():
            setattr(buyer, name, value)
        await session.commit()


@pytest.mark.parametrize("word", ["会员", "等级", "权益", "我的等级"])
async def test_a_buyer_without_a_tier_is_told_how_to_earn_one(bot, word):
    reply = await bot.send_text("oNew", word)
    assert "您目前还不是会员" in reply
    assert "采购满 ¥5,000" in reply and "银卡会员" in reply and "满500减20" in reply
    assert "名片" in reply  # no account name yet: orders cannot be matched


async def test_the_tier_card_shows_tier_perks_and_progress_in_money(bot):
    await set_buyer(
        bot, "oA", tier_key="silver", orders_12m=3, spend_12m=16800.0, platform_account="tb_a"
    )
    reply = await bot.send_text("oA", "会员")
    assert "【银卡会员】" in reply and "满500减20" in reply
    assert "近12个月：采购 ¥16,800，共 3 单" in reply
    assert "再采购 ¥3,200 或再下 27 单，升级金卡会员" in reply
    assert "专属客服" in reply  # what the next tier brings
    assert "名片" not in reply


async def test_the_progress_and_the_next_tiers_perks_are_separate_lines(bot):
    # Seen by a buyer: "再采购 ¥94,570 升级钻石会员钻石会员权益：…" (one run-on sentence).
    await set_buyer(bot, "oL", tier_key="gold", orders_12m=2, spend_12m=30000.0)
    lines = (await bot.send_text("oL", "会员")).splitlines()
    assert "再下 98 单升级钻石会员" in lines
    assert any(line.startswith("钻石会员权益：") for line in lines)


async def test_progress_is_told_in_orders_when_the_next_tier_counts_orders(bot):
    await set_buyer(bot, "oG", tier_key="gold", orders_12m=98, spend_12m=30000.0)
    assert "再下 2 单升级钻石会员" in await bot.send_text("oG", "等级")


async def test_the_top_tier_is_thanked_not_pushed(bot):
    await set_buyer(bot, "oD", tier_key="diamond", orders_12m=120, spend_12m=90000.0)
    reply = await bot.send_text("oD", "权益")
    assert "钻石会员" in reply and "最高等级" in reply and "再采购" not in reply


async def test_a_grace_period_is_shown_with_its_end(bot, clock):
    await set_buyer(
        bot, "oA", tier_key="gold", orders_12m=2, spend_12m=9000.0, tier_below_since=clock.now()
    )
    reply = await bot.send_text("oA", "会员")
    assert "等级保留至 2026-06-17" in reply


async def test_members_see_their_badge_on_other_replies(bot):
    await set_buyer(bot, "oA", tier_key="gold")
    assert (await bot.send_text("oA", "帮助")).startswith("【金卡会员】")


async def test_buyers_without_a_tier_get_no_badge(bot):
    assert not (await bot.send_text("oNew", "帮助")).startswith("【")


async def test_a_waiting_notice_comes_with_the_next_reply_once(bot):
    await set_buyer(bot, "oA", pending_notice="恭喜您已升级为【金卡会员】！", tier_key="gold")
    first = await bot.send_text("oA", "帮助")
    assert first.startswith("【金卡会员】") and first.endswith("恭喜您已升级为【金卡会员】！")
    assert "恭喜" not in await bot.send_text("oA", "帮助")
    async with bot.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "oA"))
    assert buyer.pending_notice is None


async def test_an_expired_manual_tier_is_settled_when_the_buyer_asks(make_wechat, clock):
    bot = await make_wechat(tiers={**TIERS, "announce_downgrades": True})
    await set_buyer(
        bot,
        "oA",
        tier_key="diamond",
        tier_manual_key="diamond",
        tier_manual_until=clock.now() + timedelta(days=1),
        spend_12m=0.0,
    )
    assert "钻石会员" in await bot.send_text("oA", "会员")
    clock.advance(days=2)
    reply = await bot.send_text("oA", "会员")
    assert "您目前还不是会员" in reply
    assert "调整为普通买家" in reply  # the change itself, announced in the same reply
    async with bot.sessionmaker() as session:
        change = await session.scalar(select(TierChange))
    assert (change.from_key, change.to_key, change.reason) == ("diamond", None, "manual_expired")


async def test_an_upgrade_found_at_night_reaches_a_dormant_buyer_when_they_next_write(bot, clock):
    await set_buyer(bot, "oA", platform_account="tb_a")
    clock.advance(days=3)  # the 48-hour window has closed and no template is configured
    rows = [(1, ("N1", "tb_a", None, "¥20,000.00", "2026-05-19 10:00", "交易成功"))]
    await import_orders(bot.sessionmaker, rows, bot.services.config.orders, clock.now())
    result = await recompute_all_tiers(bot.sessionmaker, bot.services)
    assert result.notices == {"stored": 1}
    reply = await bot.send_text("oA", "帮助")
    assert reply.startswith("【金卡会员】") and "恭喜您已升级为【金卡会员】" in reply
    assert "专属客服" in reply
    async with bot.sessionmaker() as session:
        change = await session.scalar(select(TierChange))
    assert (change.to_key, change.notice) == ("gold", "reply")
