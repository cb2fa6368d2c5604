"""Auto-replies and the menu, end to end in Chromium on the demo server (console, fake WeChat
and chat simulator on one port): an admin's keyword rule answers a buyer typing it in the
chat simulator; a published menu shows in the chat simulator and 我的会员 gets the tier card."""

from __future__ import annotations

import pytest
from live_server import SHOTS

from console.roles import Role

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_demo):
    return live_demo


def _sign_in(page, demo):
    name, _, password = next(x for x in demo.logins if x[1] == Role.admin)
    base = demo.config.wechat.api_base_url
    page.goto(base + "admin/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    return base


def _chat_as_first_buyer(page, base):
    page.goto(base + "chat/")
    page.locator("#buyers li").first.click()
    page.locator("#input:not([disabled])").wait_for()


def test_rule_created_in_console_answers_in_chat(browser_page, demo):
    page = browser_page
    base = _sign_in(page, demo)
    page.goto(base + "admin/autoreplies?starter=地址")
    page.get_by_label("回复（多条回复之间").fill("我们在义乌国际商贸城五区")
    page.get_by_role("button", name="保存规则").click()
    page.get_by_label("买家说").fill("我是什么会员")
    page.get_by_role("button", name="看谁回复").click()
    assert "内置会员卡" in page.locator("#trial-result").inner_text()
    page.screenshot(path=str(SHOTS / "autoreplies.png"))
    _chat_as_first_buyer(page, base)
    page.locator("#input").fill("请问地址在哪")
    page.locator("#send").click()
    page.get_by_text("我们在义乌国际商贸城五区").wait_for()


def test_published_menu_shows_in_chat_and_clicks_reach_the_bot(browser_page, demo):
    page = browser_page
    base = _sign_in(page, demo)
    page.goto(base + "admin/menu")
    page.get_by_role("button", name="发布菜单").click()
    page.get_by_role("button", name="发布到公众号").click()
    page.get_by_text("已发布。微信客户端").wait_for()
    page.screenshot(path=str(SHOTS / "menu.png"))
    _chat_as_first_buyer(page, base)
    page.locator("#menu button", has_text="会员").click()
    page.locator(".msg.bot").last.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.msg.bot')].some(e => /会员|等级/.test(e.textContent))"
    )
