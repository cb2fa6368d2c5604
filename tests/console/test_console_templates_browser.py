"""话术模板 in Chromium against the demo: edit the welcome, preview it (F9), publish, a new
follower in the chat simulator gets the new text; roll back and the next one gets the old
text; a broken version is refused with its line."""

from __future__ import annotations

import pytest
from live_server import SHOTS


@pytest.fixture
def demo(live_demo):
    return live_demo


def _publish(page, text: str) -> None:
    page.locator("#source").fill(text)
    page.get_by_role("button", name="保存并发布").click()
    dialog = page.locator("dialog#confirm")
    assert "所有买家" in dialog.inner_text()
    dialog.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布").wait_for()


def _new_follower_sees(page, chat_url: str, text: str) -> None:
    page.goto(chat_url)
    page.get_by_role("button", name="新建买家并关注").click()
    try:
        page.locator("#messages .bubble").filter(has_text=text).first.wait_for(timeout=5_000)
    except Exception:
        raise AssertionError(page.locator("#messages").inner_text()) from None


def test_edit_preview_publish_chat_rollback_and_refuse(browser_page, demo):
    page = browser_page
    name, _, password = next(login for login in demo.logins if login[1].name == "admin")
    admin = demo.urls["admin console"]
    page.goto(admin + "templates/welcome")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="话术模板").wait_for()

    first = "欢迎光临！{{ buyer.display_name or '老板' }}，回复「名片」交换名片。"
    page.locator("#source").fill(first)
    page.locator("#check .ok").wait_for()  # the check as one types
    page.keyboard.press("F9")  # previews the unsaved text
    page.locator("#preview .bubble").filter(has_text="欢迎光临！王姐").wait_for()
    _publish(page, first)
    page.locator(".tpl-list").get_by_text("已修改").first.wait_for()
    page.locator("#preview .bubble").filter(has_text="欢迎光临！").wait_for()
    page.screenshot(path=str(SHOTS / "templates.png"))
    _new_follower_sees(page, demo.urls["chat simulator"], "欢迎光临！老板")

    page.goto(admin + "templates/welcome")
    _publish(page, "第二版欢迎语，回复「帮助」看看我能做什么。")
    _new_follower_sees(page, demo.urls["chat simulator"], "第二版欢迎语")

    page.goto(admin + "templates/welcome?tab=history&v=1")
    assert page.locator("table.diff").count() == 2  # vs the live version and the default
    page.get_by_role("button", name="回滚到 v1").click()
    page.locator("dialog#confirm").get_by_role("button", name="回滚").click()
    page.get_by_role("status").filter(has_text="已回滚").wait_for()
    _new_follower_sees(page, demo.urls["chat simulator"], "欢迎光临！老板")

    page.goto(admin + "templates/welcome")
    page.locator("#source").fill("您好\n{{ buyer.company[0] }}")
    page.locator("#check .error").filter(has_text="第 2 行").wait_for()
    page.get_by_role("button", name="保存并发布").click()
    page.locator("dialog#confirm").get_by_role("button", name="发布").click()
    alert = page.locator("#form-error")
    alert.wait_for()
    assert "不能发布" in alert.inner_text() and "第 2 行" in alert.inner_text()
    _new_follower_sees(page, demo.urls["chat simulator"], "欢迎光临！老板")
