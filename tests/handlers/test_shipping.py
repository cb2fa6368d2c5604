"""发货了吗 / 到哪了 / 物流 through the real webhook: the latest order's status, its waybill and
carrier when the export had them; what the orders cannot answer goes to a person."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import Buyer
from handlers.intents import staff_guess
from handlers.shipping import GENERAL
from inbox.conversations import Conversation
from members.order_csv import FIELDS
from members.order_import import import_orders


async def buyer_with_account(wechat, openid: str, account: str) -> None:
    await wechat.send_text(openid, "你好")
    async with wechat.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
        buyer.platform_account = account
        await session.commit()


async def import_rows(wechat, clock, *rows: tuple) -> None:
    """Rows in the import's field order (members.order_csv.FIELDS), missing fields empty."""
    numbered = [(i, row + (None,) * (len(FIELDS) - len(row))) for i, row in enumerate(rows, 1)]
    result = await import_orders(
        wechat.sessionmaker, numbered, wechat.services.config.orders, clock.now()
    )
    assert result.bad_count == 0, result.bad_rows


async def waiting_conversations(wechat) -> int:
    async with wechat.sessionmaker() as session:
        return len((await session.scalars(select(Conversation))).all())


@pytest.mark.parametrize(
    "text",
    [
        "发货了吗",
        "我的货到哪了？",
        "查一下物流",
        pytest.param(
            "老板单号发我下",
            marks=pytest.mark.xfail(strict=True, reason="a known miss: 0.76, under the 0.8 bar"),
        ),
    ],
)
def test_questions_about_my_order_are_recognised(text):
    assert staff_guess(text) == "shipping"


@pytest.mark.parametrize("text", ["物流几天到", "运费怎么算", "发什么快递", "包邮吗"])
def test_general_shipping_questions_are_left_to_the_faq(text):
    assert staff_guess(text) != "shipping" or any(word in text for word in GENERAL)


async def test_the_latest_order_is_told_with_its_waybill_and_carrier(wechat, clock):
    await buyer_with_account(wechat, "oA", "tb_a")
    await import_rows(
        wechat, clock,
        ("N1", "tb_a", None, "99", "2026-05-10 10:00", "交易成功", None, None, "保温杯", None, "2"),
        ("N2", "tb_a", None, "¥1,280.00", "2026-05-16 09:00", "卖家已发货", "SF123", "顺丰速运",
         "纯棉T恤", "白色 XL", "10"),
    )  # fmt: skip
    reply = await wechat.send_text("oA", "发货了吗")
    assert "N2" in reply and "5月16日" in reply and "卖家已发货" in reply
    assert "顺丰速运" in reply and "SF123" in reply
    assert "纯棉T恤（白色 XL）" in reply and "保温杯" not in reply
    assert await waiting_conversations(wechat) == 0


async def test_an_order_not_shipped_yet_is_told_without_a_waybill(wechat, clock):
    await buyer_with_account(wechat, "oA", "tb_a")
    await import_rows(wechat, clock, ("N3", "tb_a", None, "60", "2026-05-17 09:00", "等待卖家发货"))
    reply = await wechat.send_text("oA", "到哪了")
    assert "等待卖家发货" in reply and "运单号" not in reply


async def test_a_buyer_without_known_orders_is_handed_to_a_person(wechat):
    reply = await wechat.send_text("oB", "发货了吗")
    assert "N" not in reply and "订单" not in reply
    assert await waiting_conversations(wechat) == 1
