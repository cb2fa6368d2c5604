"""Reorder rhythm as staff see it: the buyer book's 补货节奏 column and filter, the segment
fields, and the dashboard's 该补货了 list with the value at stake."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from bot.models import Buyer
from laoke.app import create_app
from scheduler.segments import compile_segment
from tests.console.conftest import ConsoleClient


async def test_due_buyers_are_listed_filtered_and_valued(aiohttp_client, make_config, clock):
    app = create_app(make_config(), clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    now = clock.now()
    rhythm = {"cycle_days": 10, "next_order_on": date(2026, 5, 14)}
    async with console.sessionmaker() as session, session.begin():
        session.add_all([
            Buyer(openid="o-due", first_seen_at=now, display_name="王姐", orders_12m=4,
                  orders_total=4, spend_12m=2000.0, reorder_state="due", days_overdue=4,
                  last_bought="纯棉T恤（白色 均码）", **rhythm),
            Buyer(openid="o-late", first_seen_at=now, display_name="李哥", orders_12m=2,
                  orders_total=2, spend_12m=300.0, reorder_state="overdue", days_overdue=15,
                  **rhythm),
            Buyer(openid="o-fine", first_seen_at=now, display_name="赵总", orders_12m=9,
                  orders_total=9, spend_12m=90000.0, reorder_state="on_rhythm", days_overdue=0,
                  **rhythm),
        ])  # fmt: skip
    viewer = await console.login_as("viewer")

    html = await (await console.client.get("/admin/", headers=viewer)).text()
    panel = html.split('data-testid="reorder-due"')[1].split("</section>")[0]
    # 王姐 ¥500 a order, 李哥 ¥150: two buyers, ¥650 at stake; 赵总 is on rhythm.
    assert "<strong>2</strong> 位买家" in panel and "¥650" in panel
    assert panel.index("王姐") < panel.index("李哥") and "赵总" not in panel
    assert "纯棉T恤（白色 均码）" in panel and "超15天" in panel

    book = await (await console.client.get("/admin/buyers?rhythm=due", headers=viewer)).text()
    assert "王姐" in book and "李哥" not in book and "赵总" not in book
    assert "该补货了 · 超4天" in book
    bad = await console.client.get("/admin/buyers?rhythm=soon", headers=viewer)
    assert bad.status == 400 and "补货节奏" in await bad.text()

    async with console.sessionmaker() as session:
        for spec, expected in (
            ({"field": "reorder_state", "op": "in", "value": ["due", "overdue"]}, 2),
            ({"field": "days_overdue", "op": "gte", "value": 10}, 1),
            ({"field": "cycle_days", "op": "lte", "value": 10}, 3),
        ):
            where = compile_segment(spec, now)
            assert await session.scalar(select(func.count()).where(where)) == expected
