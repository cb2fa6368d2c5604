"""收件箱 in Chromium on the running demo: a buyer's 发货了吗 in the chat simulator reaches two
staff members' inboxes within a second (server-sent events), a staff reply reaches the
buyer's chat and the other staff member's open thread live, and a conversation whose
window has closed offers the template instead of a composer."""

from __future__ import annotations

import time

import pytest
from live_server import SHOTS, LiveDemo

from tests import wall_clock

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(tmp_path):
    # The buyer is told 客服会尽快回复您 only while staff are in: the demo runs on a weekday
    # morning's clock whatever the hour the suite runs at (after hours it says when they are back).
    running = LiveDemo(tmp_path / "demo", clock=wall_clock.office_clock())
    yield running.demo
    running.stop()


def _staff_page(browser, demo, role_name: str):
    name, _role, password = next(x for x in demo.logins if x[1].name == role_name)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(demo.urls["admin console"] + "login?next=/admin/inbox")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/inbox**")
    return context, page


def test_a_buyer_message_reaches_staff_live_and_the_reply_reaches_the_buyer(browser, demo):
    ctx_a, staff_a = _staff_page(browser, demo, "operator")
    ctx_b, staff_b = _staff_page(browser, demo, "admin")
    buyer_ctx = browser.new_context(viewport={"width": 1000, "height": 700}, locale="zh-CN")
    chat = buyer_ctx.new_page()
    chat.set_default_timeout(10_000)
    try:
        staff_a.wait_for_function("() => document.querySelector('.inbox') !== null")
        time.sleep(1.0)  # both event streams are connected and have their baseline
        chat.goto(demo.urls["chat simulator"])
        chat.click("#new-buyer")
        chat.wait_for_selector(".msg.bot >> text=欢迎关注")
        chat.fill("#input", "发货了吗")
        chat.press("#input", "Enter")
        chat.locator(".msg.bot", has_text="客服会尽快回复您").wait_for()
        sent = time.monotonic()
        row_a = staff_a.locator(".conv", has_text="发货了吗")
        row_a.wait_for(timeout=1500)
        staff_b.locator(".conv", has_text="发货了吗").wait_for(timeout=1500)
        assert time.monotonic() - sent < 1.5

        # Both open the conversation; A replies with Enter, B sees it without reloading.
        row_a.click()
        staff_a.wait_for_selector("#reply-text")
        staff_b.locator(".conv", has_text="发货了吗").click()
        staff_b.wait_for_selector(".msg-buyer >> text=发货了吗")
        assert "还可发 5/5 条（含活动推送）" in staff_a.inner_text("#window-state")
        staff_a.fill("#reply-text", "今天下午发出，单号稍后发您")
        staff_a.press("#reply-text", "Enter")
        staff_a.wait_for_selector(".msg-staff >> text=今天下午发出")
        staff_b.wait_for_selector(".msg-staff >> text=今天下午发出", timeout=2000)
        assert "还可发 4/5 条" in staff_a.inner_text("#window-state")
        chat.locator(".msg.bot", has_text="今天下午发出，单号稍后发您").wait_for(timeout=5000)

        # Shift+Enter is a new line, not a send.
        staff_a.fill("#reply-text", "第一行")
        staff_a.press("#reply-text", "Shift+Enter")
        staff_a.type("#reply-text", "第二行")
        assert staff_a.input_value("#reply-text") == "第一行\n第二行"
        SHOTS.mkdir(parents=True, exist_ok=True)
        staff_a.screenshot(path=str(SHOTS / "inbox.png"))
    finally:
        for context in (ctx_a, ctx_b, buyer_ctx):
            context.close()


def test_a_closed_window_offers_the_template_instead_of_the_composer(browser, demo):
    context, page = _staff_page(browser, demo, "operator")
    try:
        page.locator(".conv", has_text="能开专票吗").click()
        page.wait_for_selector("#closed-window")
        assert page.locator("#composer").count() == 0
        text = page.inner_text("#closed-window")
        assert "48 小时没有互动" in text and "来消息时提醒我" in text and "发送模板消息" in text
        page.fill("#template-text", "可以开专票，请把开票信息发给我们")
        page.click("#closed-window button:has-text('发送模板消息')")
        page.wait_for_selector(".msg-staff >> text=可以开专票")
    finally:
        context.close()
