"""The console's strict Content-Security-Policy in Chromium against the demo: every main page
(charts, dialogs, htmx, the live inbox) works with no CSP violation."""

from __future__ import annotations

import re

import pytest

from console.nav import NAV

pytestmark = pytest.mark.browser

# Every page in the navigation, and the detail pages with charts, dialogs and editors.
PAGES = [item.path for group in NAV for item in group.items] + [
    "/admin/campaigns/calendar", "/admin/campaigns/new", "/admin/campaigns/1",
    "/admin/buyers/1", "/admin/templates/welcome",
]  # fmt: skip
# Recorded in the page before any of its scripts run: what the browser refused.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


def test_every_console_page_works_under_the_csp_without_a_violation(browser_page, live_demo):
    page, demo = browser_page, live_demo
    console_errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.add_init_script(RECORD_VIOLATIONS)
    name, _, password = next(login for login in demo.logins if login[1].name == "admin")
    admin = demo.urls["admin console"]
    origin = admin.removesuffix("/admin/")
    page.goto(admin)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").wait_for()

    violations: dict[str, list[str]] = {}
    for path in PAGES:
        response = page.goto(origin + path)
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp")
        if found:
            violations[path] = found
    # The dashboard's charts drew (ECharts from a static file, data from a JSON block) and
    # their tooltip, HTML with inline styles, shows on hover.
    page.goto(admin)
    chart = page.locator("canvas").first
    chart.wait_for()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # A dialog opened by the console's own script, not an onclick attribute.
    page.goto(admin + "menu")
    page.get_by_role("button", name="发布菜单").click()
    assert page.locator("dialog#publish-dialog").is_visible()
    page.locator("dialog#publish-dialog").get_by_role("button", name="返回").click()
    assert not page.locator("dialog#publish-dialog").is_visible()
    if found := page.evaluate("window.__csp"):
        violations["menu"] = found
    assert violations == {}
    assert not [e for e in console_errors if re.search("Content Security Policy", e)]
