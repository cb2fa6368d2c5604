"""The console in headless Chromium, used as staff use it: sign in, mistakes, throttling,
roles refused, CSRF, API tokens, sign out, and the phone layout."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from console.models import AuditEntry

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"


def sign_in(page, live, name, password=PASSWORD, path="/admin/"):
    page.goto(live.url + path)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def api_call(live, method, path, token, body=None):
    request = urllib.request.Request(
        live.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_staff_signs_in_lands_on_the_page_asked_for_and_signs_out(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("amy", "operator")
    sign_in(page, live, "amy", path="/admin/buyers")
    assert page.url == live.url + "/admin/buyers"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", name="买家").is_visible()
    nav = page.get_by_role("navigation", name="主导航")
    assert nav.get_by_role("link", name="收件箱").is_visible()
    assert nav.get_by_role("link", name="成员与角色").count() == 0  # admins only
    page.get_by_text("amy · 运营").click()
    page.get_by_role("button", name="退出登录").click()
    assert "/admin/login" in page.url
    page.goto(live.url + "/admin/")
    assert "/admin/login" in page.url  # the session is gone, not just the cookie


def test_wrong_password_says_so_and_keeps_the_name(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("amy", "viewer")
    sign_in(page, live, "amy", password="wrong-password")
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误，或账号已停用。"
    assert page.get_by_label("用户名").input_value() == "amy"
    assert "/admin/login" in page.url


def test_repeated_failures_lock_the_account_with_the_wait_shown(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("amy", "viewer")
    for _ in range(5):
        sign_in(page, live, "amy", password="wrong-password")
    sign_in(page, live, "amy")  # the right password no longer helps
    assert page.get_by_role("alert").inner_text() == "登录失败次数过多，请 15 分钟后再试。"
    assert "/admin/login" in page.url


def test_viewer_is_refused_operator_and_admin_pages_and_actions(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("vic", "viewer")
    sign_in(page, live, "vic")
    page.goto(live.url + "/admin/settings/members")
    assert page.get_by_role("heading", name="无权访问").is_visible()
    assert "需要「管理员」或更高角色" in page.get_by_role("alert").inner_text()
    # An operator action sent with the viewer's own valid CSRF token: still refused.
    page.goto(live.url + "/admin/")
    token = page.locator("form[action='/admin/logout'] input[name=csrf_token]").get_attribute(
        "value"
    )
    resp = page.request.post(
        live.url + "/admin/settings/tokens",
        form={"csrf_token": token, "name": "x", "scope": "write", "my_password": PASSWORD},
    )
    assert resp.status == 403
    assert "需要「运营」" in resp.text()


def test_a_post_without_the_csrf_token_is_refused(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("boss", "admin")
    sign_in(page, live, "boss")
    resp = page.request.post(
        live.url + "/admin/settings/members",
        form={"name": "intruder", "role": "admin", "my_password": PASSWORD},
    )
    assert resp.status == 403
    assert "CSRF" in resp.text()
    page.goto(live.url + "/admin/settings/members")
    assert page.get_by_role("cell", name="intruder").count() == 0


def test_operator_creates_a_token_uses_it_and_revokes_it(browser_page, live_console):
    page, live = browser_page, live_console
    live.add_user("amy", "operator")
    sign_in(page, live, "amy", path="/admin/settings/tokens")
    assert page.get_by_text("还没有 API 令牌").is_visible()
    page.get_by_label("名称（用途）").fill("ERP 同步")
    page.get_by_label("读写").check()
    page.get_by_label("你的密码（确认身份）").fill(PASSWORD)
    page.get_by_role("button", name="创建令牌").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("lk_")
    body = {
        "name": "近30天互动",
        "spec": {"all": [{"field": "days_since_interaction", "op": "lt", "value": 30}]},
    }
    assert api_call(live, "POST", "/api/segments", secret, body) == 201
    assert api_call(live, "GET", "/api/segments", "service-token-1") == 200
    entry = live.query(
        lambda s: s.scalar(select(AuditEntry).where(AuditEntry.action == "api.POST /segments"))
    )
    assert entry.actor_name == "amy"
    page.goto(live.url + "/admin/settings/tokens")  # shown once: not on the next visit
    assert page.locator("#new-token").count() == 0
    page.get_by_label("输入令牌名称「ERP 同步」以确认撤销").fill("ERP")
    page.get_by_role("button", name="撤销令牌").click()
    assert "请输入令牌名称「ERP 同步」" in page.get_by_role("alert").inner_text()
    assert api_call(live, "GET", "/api/segments", secret) == 200
    page.get_by_label("输入令牌名称「ERP 同步」以确认撤销").fill("ERP 同步")
    page.get_by_role("button", name="撤销令牌").click()
    assert page.get_by_text("已撤销").is_visible()
    assert api_call(live, "GET", "/api/segments", secret) == 401


def test_on_a_phone_the_navigation_is_a_drawer(browser, live_console):
    live = live_console
    live.add_user("amy", "operator")
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live, "amy")
        link = page.get_by_role("navigation", name="主导航").get_by_role("link", name="买家")
        assert not link.is_visible() or link.bounding_box()["x"] < 0
        page.get_by_role("button", name="菜单").click()
        page.wait_for_timeout(300)  # the drawer's slide-in transition
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
