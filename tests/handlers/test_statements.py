"""Buyers ask for their statement and rebate in chat, through the real webhook: figures that
match their orders to the cent, the running period, the rebate step ahead, payouts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from statement_world import add_order
from tiers_fixture import tiers

from bot.models import Buyer
from statements.close import close_period
from statements.ladder import Ladder, Step, save_ladder
from statements.ledger import mark_paid
from statements.links import verify
from statements.models import Statement
from statements.periods import parse_period

NOW = datetime(2026, 12, 10, 4, tzinfo=UTC)
IN_NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)
IN_DEC = datetime(2026, 12, 2, 4, tzinfo=UTC)
LADDER = Ladder(None, "spend", (Step(100, min_cents=1_000_000), Step(300, min_cents=5_000_000)))


@pytest.fixture
async def bot(make_wechat, clock):
    clock.set(NOW)
    return await make_wechat(server={"public_url": "https://laoke.example.com"}, tiers=tiers())


async def buyer_id(bot, openid: str) -> int:
    await bot.send_text(openid, "你好")
    async with bot.sessionmaker() as session:
        return await session.scalar(select(Buyer.id).where(Buyer.openid == openid))


async def november_closed(bot, bid: int) -> None:
    async with bot.sessionmaker() as session, session.begin():
        await save_ladder(session, LADDER, "管理员", IN_NOV)
    await add_order(bot.sessionmaker, "N1", bid, 1_234_567, IN_NOV)
    await add_order(bot.sessionmaker, "N2", bid, 50_000, IN_NOV, status="退款成功", counted=False)
    await close_period(
        bot.sessionmaker, parse_period("2026-11", "month", "Asia/Shanghai"), actor="命令行",
        now=NOW,
    )  # fmt: skip


@pytest.mark.parametrize("words", ["对账", "对账单", "查一下对账单", "我要对账？"])
async def test_a_buyer_asking_to_reconcile_gets_the_statement_to_the_cent_and_a_link(bot, words):
    bid = await buyer_id(bot, "oA")
    await november_closed(bot, bid)
    reply = await bot.send_text("oA", words)
    assert "2026年11月对账单" in reply
    assert "拿货 2 单，共 ¥12,845.67" in reply and "退款 ¥500" in reply
    assert "净采购 ¥12,345.67，返点 ¥123.46" in reply
    token = re.search(r"https://laoke\.example\.com/s/(\S+)", reply).group(1)
    claim = verify(bot.services.config, token, NOW)
    assert (claim.buyer_id, claim.period_key) == (bid, "2026-11")


async def test_this_month_so_far_with_the_next_rebate_step(bot):
    bid = await buyer_id(bot, "oA")
    await november_closed(bot, bid)
    await add_order(bot.sessionmaker, "D1", bid, 4_180_000, IN_DEC)
    reply = await bot.send_text("oA", "这个月拿了多少货？")
    assert "2026年12月（截至今天）拿货 1 单，净采购 ¥41,800。" in reply
    assert "本月再拿¥8,200，返点升到3%。" in reply
    assert "/s/" in reply


@pytest.mark.parametrize("words", ["返点到账没", "返点到账了吗？", "上个月的返点发了吗"])
async def test_a_buyer_asks_whether_the_rebate_was_paid(bot, words):
    bid = await buyer_id(bot, "oA")
    await november_closed(bot, bid)
    assert "返点 ¥123.46 还在发放中" in await bot.send_text("oA", words)
    async with bot.sessionmaker() as session, session.begin():
        statement_id = await session.scalar(select(Statement.id))
        await mark_paid(session, statement_id, method="微信", note="", actor="王会计", now=NOW)
    reply = await bot.send_text("oA", words)
    assert "返点 ¥123.46 已于 2026-12-10 通过微信发放" in reply
    statement = await bot.send_text("oA", "对账")
    assert "返点 ¥123.46（已发放）\n订单明细：https://laoke.example.com/s/" in statement


async def test_the_rebate_answer_shows_what_is_owed_and_the_step_ahead(bot):
    bid = await buyer_id(bot, "oA")
    await november_closed(bot, bid)
    reply = await bot.send_text("oA", "返点多少")
    assert "2026年11月：净采购 ¥12,345.67，返点 1%，共 ¥123.46。" in reply
    assert "尚未发放的返点合计 ¥123.46" in reply
    assert "本月再拿¥10,000，返点升到1%。" in reply


async def test_a_buyer_without_statements_gets_the_period_so_far(bot):
    await buyer_id(bot, "oNew")
    reply = await bot.send_text("oNew", "对账")
    assert "您还没有已结算的对账单。2026年12月目前拿货 0 单，净采购 ¥0。" in reply


async def test_the_tier_card_carries_the_rebate_progress_line(bot):
    bid = await buyer_id(bot, "oA")
    async with bot.sessionmaker() as session, session.begin():
        buyer = await session.get(Buyer, bid)
        buyer.tier_key = "silver"
        await save_ladder(session, LADDER, "管理员", IN_NOV)
    await add_order(bot.sessionmaker, "D1", bid, 4_180_000, IN_DEC)
    assert "本月再拿¥8,200返点升到3%" in await bot.send_text("oA", "会员")


async def test_with_quarterly_periods_the_progress_counts_the_quarter(make_wechat, clock):
    clock.set(NOW)
    bot = await make_wechat(statements={"period": "quarter"}, tiers=tiers())
    bid = await buyer_id(bot, "oQ")
    async with bot.sessionmaker() as session, session.begin():
        await save_ladder(session, LADDER, "管理员", IN_NOV)
    await add_order(bot.sessionmaker, "Q1", bid, 2_000_000, IN_NOV)  # October–December
    await add_order(bot.sessionmaker, "Q2", bid, 1_000_000, IN_DEC)
    reply = await bot.send_text("oQ", "这个月拿了多少货")
    assert "2026年第4季度（截至今天）拿货 2 单，净采购 ¥30,000。" in reply
    assert "本季度再拿¥20,000，返点升到3%。" in reply
    assert "/s/" not in reply  # no [server] public_url: no link to send
