"""订单 and 会员等级 in headless Chromium: import a GBK export with headers Laoke does not know
by mapping the columns by hand, dry-run, confirm, see the result and the history; an admin
edits a tier threshold and sees the moves before saving. Screenshots for docs/console.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from live_server import SHOTS, LiveApp
from sqlalchemy import func, select

from bot.clock import Clock
from bot.models import Buyer
from laoke.app import create_app
from members.orders import Order

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"
TIERS = {
    "levels": [
        {"key": "normal", "name": "普通会员", "rank": 0, "perks": ["会员价"]},
        {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000, "min_orders": 10,
         "perks": ["满500减20"], "badge": "【银卡】", "grace_days": 30},
        {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000, "min_orders": 30,
         "perks": ["专属客服", "优先发货"], "badge": "【金卡】", "grace_days": 30},
    ]
}  # fmt: skip
EXPORT = (
    "单号,客户旺旺,金额合计,成交日期,交易状况\n"
    'C-2001,tb_wang,"12,800.00",2026/5/10 9:30,交易成功\n'
    "C-2002,tb_zhao,480.5,2026/5/11 10:00,交易关闭\n"
    "C-2003,tb_qian,980,2026/5/12 11:00,交易成功\n"
    "C-2004,tb_wang,abc,2026/5/12 12:00,交易成功\n"
).encode("gbk")


@pytest.fixture
def live(make_config):
    live = LiveApp(create_app(make_config(tiers=TIERS)))
    live.start()
    now = Clock().now()

    async def seed(session):
        for i, (name, account, spend, tier) in enumerate([
            ("王老板", "tb_wang", 12000.0, "silver"), ("李姐", "tb_li", 15000.0, "silver"),
            ("陈总", "tb_chen", 26000.0, "gold"), ("赵哥", "tb_zhao", 300.0, "normal"),
        ]):  # fmt: skip
            buyer = Buyer(openid=f"ob{i}", first_seen_at=now, display_name=name,
                          platform_account=account, spend_12m=spend, orders_12m=2,
                          tier_key=tier)  # fmt: skip
            session.add(buyer)
            await session.flush()
            session.add(Order(order_no=f"H{i}", account=account, amount_cents=int(spend * 100),
                              ordered_at=now - timedelta(days=20), status="交易成功",
                              counted=True, buyer_id=buyer.id, first_import="seed",
                              last_import="seed", updated_at=now))  # fmt: skip

    live.query(seed)
    yield live
    live.stop()


def sign_in(page, live, name, role):
    live.add_user(name, role)
    page.goto(live.url + "/admin/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_operator_imports_a_gbk_export_with_a_hand_made_mapping(browser_page, live, tmp_path):
    page = browser_page
    export = tmp_path / "1688订单导出.csv"
    export.write_bytes(EXPORT)
    sign_in(page, live, "amy", "operator")
    page.goto(live.url + "/admin/orders")
    page.get_by_label("平台", exact=True).select_option("1688")
    page.get_by_label("文件", exact=True).set_input_files(str(export))
    page.get_by_role("button", name="上传并识别").click()

    assert page.get_by_test_id("encoding").inner_text() == "GBK"
    assert page.get_by_text("4 行数据").is_visible()
    for field, header in (("order_no", "单号"), ("account", "客户旺旺"), ("amount", "金额合计"),
                          ("created_at", "成交日期"), ("status", "交易状况")):  # fmt: skip
        page.locator(f"#m_{field}").select_option(header)
    page.get_by_role("button", name="刷新预览").click()
    samples = page.locator(".samples")
    assert samples.get_by_text("¥12,800.00").is_visible()
    assert samples.get_by_text("2026-05-10 09:30").is_visible()
    assert samples.get_by_text("不计入").is_visible()
    page.screenshot(path=str(SHOTS / "orders.png"))

    page.get_by_role("button", name="预检（不写入）").click()
    assert page.get_by_test_id("new").inner_text() == "3"
    assert page.get_by_test_id("bad").inner_text() == "1"
    assert page.get_by_test_id("matched").inner_text() == "2"
    assert page.get_by_test_id("unmatched").inner_text() == "1"
    assert live.query(lambda s: s.scalar(select(func.count()).select_from(Order))) == 4
    page.get_by_role("button", name="确认导入…").click()
    dialog = page.get_by_role("dialog")
    assert "新增 3" in dialog.inner_text()
    dialog.get_by_role("button", name="确认导入").click()
    result = page.get_by_test_id("job-result")
    result.wait_for()
    assert "新增 3" in result.inner_text() and "1 人升级" in result.inner_text()
    assert live.query(lambda s: s.scalar(select(func.count()).select_from(Order))) == 7

    page.get_by_role("link", name="返回订单（导入记录）").click()
    history = page.locator("table").first
    assert history.get_by_text("1688订单导出.csv").is_visible()
    assert history.get_by_text("完成").is_visible()
    page.get_by_role("link", name="未匹配", exact=True).click()
    assert page.get_by_text("C-2003").is_visible()


def test_admin_edits_a_threshold_and_sees_the_moves_before_saving(browser_page, live):
    page = browser_page
    sign_in(page, live, "boss", "admin")
    page.goto(live.url + "/admin/tiers")
    assert page.get_by_text("近12个月采购满 ¥20,000 或 30 单").is_visible()
    page.get_by_role("link", name="编辑等级规则").click()
    page.get_by_label("第 3 个等级的采购金额门槛").fill("1万")
    page.get_by_role("button", name="预览影响").click()
    moves = page.get_by_test_id("moves")
    assert "预计 2 人升级、0 人进入宽限期" in moves.inner_text()
    page.get_by_role("button", name="保存等级规则").click()
    assert page.get_by_text("等级规则已保存").is_visible()
    assert page.get_by_text("近12个月采购满 ¥10,000 或 30 单").is_visible()
    page.get_by_role("button", name="重算全部等级").click()
    assert page.get_by_text("2 人升级").is_visible()
    assert page.get_by_role("cell", name="银卡会员 → 金卡会员").count() == 2
    page.screenshot(path=str(SHOTS / "tiers.png"))
