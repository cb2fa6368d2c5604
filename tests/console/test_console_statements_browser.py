"""对账与返点 in headless Chromium: an operator closes last month, reads the statements and
marks a rebate paid; an admin previews a new ladder on that month and saves it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from live_server import LiveApp

from bot.clock import Clock
from bot.models import Buyer
from laoke.app import create_app
from members.orders import Order
from statements.ladder import Ladder, Step, save_ladder
from statements.periods import period_of

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def live(make_config):
    live = LiveApp(create_app(make_config()))
    live.start()
    # The live server runs on the real clock: the orders are in whichever month ended last.
    last_month = period_of(Clock().now(), "month", "Asia/Shanghai").previous()
    when = last_month.starts_at + timedelta(days=5)

    async def seed(session):
        await save_ladder(session, Ladder(None, "spend", (Step(100, min_cents=1_000_000),)),
                          "管理员", when)  # fmt: skip
        for i, (name, cents) in enumerate((("王老板", 2_345_678), ("李姐", 880_000))):
            buyer = Buyer(openid=f"ob{i}", first_seen_at=when, display_name=name)
            session.add(buyer)
            await session.flush()
            session.add(Order(order_no=f"M{i}", amount_cents=cents, ordered_at=when,
                              status="交易成功", counted=True, buyer_id=buyer.id,
                              first_import="seed", last_import="seed", updated_at=when))  # fmt: skip
        await session.commit()

    live.query(seed)
    live.label = last_month.label
    yield live
    live.stop()


def sign_in(page, live, name, role):
    live.add_user(name, role)
    page.goto(live.url + "/admin/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_operator_closes_last_month_and_marks_a_rebate_paid(browser_page, live):
    page = browser_page
    sign_in(page, live, "amy", "operator")
    page.get_by_role("link", name="对账与返点").click()
    page.get_by_role("button", name=f"结账 {live.label}").click()
    assert page.get_by_text("已结账，对账单已生成").is_visible()
    assert page.get_by_test_id("period-net").inner_text() == "¥32,256.78"
    assert page.get_by_test_id("period-rebate").inner_text() == "¥234.57"
    row = page.locator("tr", has_text="王老板")
    row.get_by_label("王老板 的付款方式").select_option("微信")
    row.get_by_label("王老板 的付款备注").fill("已转微信")
    row.get_by_role("button", name="标记已付 ¥234.57").click()
    assert page.get_by_text("已标记为已付").is_visible()
    assert page.locator("tr", has_text="王老板").get_by_text("已付 · 微信 · amy").is_visible()
    assert page.get_by_test_id("period-paid").inner_text() == "¥234.57"
    page.screenshot(path=str(SHOTS / "statements.png"))
    page.get_by_role("link", name="李姐").click()
    assert page.get_by_role("cell", name="M1").is_visible()


def test_admin_previews_a_ladder_on_last_month_then_saves_it(browser_page, live):
    page = browser_page
    sign_in(page, live, "boss", "admin")
    page.goto(live.url + "/admin/statements")
    page.get_by_role("button", name=f"结账 {live.label}").click()
    page.goto(live.url + "/admin/statements")
    page.get_by_role("link", name="编辑返点规则").click()
    page.get_by_label("第 2 档的门槛或等级").fill("5000")
    page.get_by_label("第 2 档的返点比例").fill("0.5")
    page.get_by_label("第 1 档的门槛或等级").fill("2万")
    page.get_by_label("第 1 档的返点比例").fill("2")
    page.get_by_role("button", name="预览").click()
    preview = page.get_by_test_id("ladder-preview")
    # 2% of ¥23,456.78 and 0.5% of ¥8,800.
    assert "预计返 ¥513.14 给 2 位买家" in preview.inner_text()
    page.get_by_role("button", name="保存为新版本").click()
    assert page.get_by_text("返点规则已保存为新版本").is_visible()
    assert page.get_by_text("满 ¥5,000 返 0.5%；满 ¥20,000 返 2%（第 2 版）").is_visible()
