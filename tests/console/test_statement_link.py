"""The statement page a buyer opens from the link in chat: signature and expiry are the only
key; the order list to the cent; 有问题 puts the statement in the staff inbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from statement_world import add_order

from bot.models import Buyer
from inbox.models import Conversation, InboxMessage
from statements.close import close_period
from statements.periods import parse_period

NOW = datetime(2026, 12, 10, 4, tzinfo=UTC)
IN_NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


@pytest.fixture
async def bot(make_wechat, clock):
    clock.set(NOW)
    return await make_wechat(server={"public_url": "https://laoke.example.com"})


async def link_for(bot, openid: str) -> str:
    await bot.send_text(openid, "你好")
    async with bot.sessionmaker() as session:
        bid = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
    await add_order(bot.sessionmaker, "N-1001", bid, 880_050, IN_NOV)
    await add_order(
        bot.sessionmaker, "N-1002", bid, 20_000, IN_NOV, status="退款成功", counted=False
    )
    await close_period(
        bot.sessionmaker, parse_period("2026-11", "month", "Asia/Shanghai"), actor="命令行", now=NOW
    )
    reply = await bot.send_text(openid, "对账")
    return re.search(r"https://laoke\.example\.com(/s/\S+)", reply).group(1)


async def test_the_link_opens_the_order_list_without_signing_in(bot):
    path = await link_for(bot, "oA")
    resp = await bot.http.get(path)
    html = await resp.text()
    assert resp.status == 200 and "2026年11月 对账单" in html
    assert "N-1001" in html and "¥8,800.50" in html and "-¥200" in html
    assert 'data-testid="net">¥8,800.50<' in html
    assert (
        resp.headers["Referrer-Policy"] == "no-referrer"
        and "no-store" in resp.headers["Cache-Control"]
    )


async def test_an_altered_or_expired_link_opens_nothing(bot, clock):
    path = await link_for(bot, "oA")
    buyer, key, expires, signature = path.removeprefix("/s/").split(".")
    other = f"/s/{int(buyer) + 1}.{key}.{expires}.{signature}"
    resp = await bot.http.get(other)
    assert resp.status == 403 and "请在公众号里回复「对账」重新获取" in await resp.text()
    assert (
        "N-1001"
        not in await (
            await bot.http.get(f"/s/{buyer}.{key}.{int(expires) + 86400}.{signature}")
        ).text()
    )
    clock.advance(days=8)  # [statements] link_days = 7
    resp = await bot.http.get(path)
    assert resp.status == 403 and "链接已过期" in await resp.text()


async def test_a_question_on_the_statement_opens_an_inbox_conversation_with_it(bot):
    path = await link_for(bot, "oA")
    resp = await bot.http.post(path + "/question", data={"text": "N-1002 的退款还没到"},
                               allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    page = await (await bot.http.get(resp.headers["Location"])).text()
    assert "已转给客服" in page
    async with bot.sessionmaker() as session:
        conv = await session.scalar(select(Conversation))
        messages = list(await session.scalars(select(InboxMessage.content).where(
            InboxMessage.conversation_id == conv.id)))  # fmt: skip
    assert conv.status == "waiting" and conv.requested_person
    thread = "\n".join(messages)
    assert "【对账单有疑问】2026年11月（已结账）" in thread and "净采购 ¥8,800.50" in thread
    assert "/admin/statements/2026-11/buyer/" in thread and "买家说：N-1002 的退款还没到" in thread
