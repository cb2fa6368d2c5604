"""What a buyer buys, as staff see it: the buyer page and the inbox profile list the products
bought most (by quantity over counted orders) and the latest order's lines."""

from __future__ import annotations

import io

from sqlalchemy import select

from bot.config import OrdersConfig
from bot.models import Buyer
from inbox.conversations import hand_over
from laoke.app import create_app
from members.order_import import import_csv
from tests.console.conftest import ConsoleClient

EXPORT = (
    "订单编号,买家会员名,实付款,订单创建时间,订单状态,货品标题,规格,数量\n"
    "A1,tb_wang,150,2026-05-01 09:30,交易成功,纯棉T恤,白色 XL,10\n"
    "A1,tb_wang,150,2026-05-01 09:30,交易成功,帆布袋,,30\n"
    "A2,tb_wang,60,2026-05-10 10:00,交易成功,纯棉T恤,白色 XL,5\n"
    "A3,tb_wang,999,2026-05-12 10:00,交易关闭,羽绒服,,50\n"
)


async def test_buyer_page_and_inbox_profile_show_what_the_buyer_buys(
    aiohttp_client, make_config, clock
):
    app = create_app(make_config(), clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    now = clock.now()
    async with console.sessionmaker() as session, session.begin():
        buyer = Buyer(openid="o-w", first_seen_at=now, display_name="王姐",
                      platform_account="tb_wang")  # fmt: skip
        session.add(buyer)
        await session.flush()
        await hand_over(session, buyer, "发货了吗", now, person=False)
    await import_csv(console.sessionmaker, io.BytesIO(EXPORT.encode()), OrdersConfig(), now)
    async with console.sessionmaker() as session:
        buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == "o-w"))
    viewer = await console.login_as("viewer")

    page = await (await console.client.get(f"/admin/buyers/{buyer_id}", headers=viewer)).text()
    top = page.split('data-testid="purchases-top"')[1].split("</ol>")[0]
    # 帆布袋 30 pieces beats the T-shirt's 15; the closed order's 羽绒服 does not count.
    assert top.index("帆布袋") < top.index("纯棉T恤（白色 XL） · 15 件 · 2 单")
    assert "羽绒服" not in page
    last = page.split('data-testid="purchases-last"')[1].split("</p>")[0]
    assert "纯棉T恤（白色 XL） ×5" in last and "帆布袋" not in last

    staff = await console.login_as("operator")
    inbox = await (await console.client.get("/admin/inbox", headers=staff)).text()
    assert "买什么" in inbox and "帆布袋 · 30 件 · 1 单" in inbox
