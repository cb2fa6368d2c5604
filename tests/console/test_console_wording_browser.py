"""Every word staff read in the console is Chinese: Chromium signs in to the seeded demo as
admin, operator and viewer, walks every page they may open (and the htmx partials and dialogs
those pages load), and fails on any ASCII word outside a short allow-list.

What counts as read: every text node (hidden dialogs and closed menus included, since they
open), and the attributes shown to people (placeholder, title, aria-label, alt, button
values, the console's ``data-confirm`` questions). Not read: scripts, styles, the text in a
text box (what the user typed), and anything marked ``translate="no"`` (codes the user typed,
such as a keyword or a WeChat template id, shown back as typed).
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

# Words staff meet in WeChat's own backend, units, file formats, keys on the keyboard and
# the product's own brand. Everything else is translated.
ALLOWED = {
    "API", "AppID", "AppSecret", "Token", "EncodingAESKey", "URL", "CSV", "Excel", "GBK",
    "UTF", "BOM", "ID", "QR", "ms", "px", "KB", "MB", "Ctrl", "Enter", "Esc", "Tab", "Shift",
    "HTTPS", "HTTP", "IP", "OpenID", "VIP", "JSON", "ERP",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z]{2,}")
URL = re.compile(r"https?://\S+")  # an address (a live link in a message), not a word

# Read on every page: the visible text and the attributes people read.
READ_WORDS = """
(root) => {
  const skip = "SCRIPT,STYLE,NOSCRIPT,TEXTAREA,TEMPLATE".split(",");
  const out = [];
  const hidden = (el) => el.closest("[translate=no]") || skip.includes(el.tagName);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el && !hidden(el) && n.textContent.trim()) out.push(n.textContent.trim());
  }
  for (const el of root.querySelectorAll(
      "[placeholder],[title],[aria-label],[alt],[data-confirm],input[type=submit],input[type=button]")) {
    if (el.closest("[translate=no]")) continue;
    for (const a of ["placeholder", "title", "aria-label", "alt", "data-confirm"]) {
      if (el.hasAttribute(a)) out.push(el.getAttribute(a));
    }
    if (el.tagName === "INPUT" && ["submit", "button"].includes(el.type)) out.push(el.value);
  }
  return out;
}
"""
# An htmx partial, fetched as htmx would, parsed and read the same way.
READ_PARTIAL = """
async ([url, method, body]) => {
  const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  const init = {method, headers: {"HX-Request": "true", "X-CSRF-Token": token}};
  if (method === "POST") init.body = new URLSearchParams(body);
  const resp = await fetch(url, init);
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  return [resp.status, (READ_WORDS)(doc.body)];
}
""".replace("READ_WORDS", READ_WORDS)

DETAIL_PAGES = {
    "viewer": [
        "/admin/campaigns/calendar", "/admin/campaigns/1", "/admin/campaigns/1/recipients",
        "/admin/buyers/1", "/admin/buyers/2", "/admin/buyers/3", "/admin/inbox/kpis",
        "/admin/buyers/2?type=tier", "/admin/buyers?tier=gold", "/admin/orders?matched=no",
        "/admin/campaigns/2", "/admin/campaigns/3",
    ],
    "operator": [
        "/admin/campaigns/new", "/admin/campaigns/1/edit", "/admin/campaigns/2/edit",
        "/admin/templates/welcome", "/admin/templates/welcome?tab=history",
        "/admin/template-messages", "/admin/inbox?tab=all", "/admin/templates/tier_upgrade",
        "/admin/templates/card_ask_name", "/admin/templates/campaign_recall", "/admin/buyers/bulk?action=add&bulk_tag=%E5%9B%9E%E5%A4%B4%E5%AE%A2",
    ],
    "admin": [
        "/admin/tiers/edit", "/admin/templates/welcome?tab=history&v=1",
        "/admin/settings/audit?action=user.create",
        "/admin/settings/wechat/followers",
    ],
}  # fmt: skip
# (role, method, path, form): the partials htmx loads and the dialogs' contents.
PARTIALS = [
    ("operator", "GET", "/admin/campaigns/1/summary", {}),
    ("operator", "GET", "/admin/campaigns/2/summary", {}),
    ("operator", "GET", "/admin/campaigns/1/preview", {}),
    ("operator", "GET", "/admin/campaigns/wechat/status", {}),
    ("viewer", "GET", "/admin/campaigns/1/progress", {}),
    ("operator", "POST", "/admin/segments/preview",
     {"spec": '{"all": [{"field": "tier", "op": "in", "value": ["金卡会员"]}]}'}),
    ("operator", "POST", "/admin/segments/preview",
     {"spec": '{"all": [{"field": "tier", "op": "in", "value": ["铂金"]}]}'}),
    ("operator", "POST", "/admin/templates/welcome/preview", {"source": "你好 {{ buyer.x }"}),
    ("admin", "POST", "/admin/templates/welcome/check", {"source": "你好 {{ buyer.display_name"}),
    ("admin", "POST", "/admin/templates/welcome/check", {"source": "{% if x %}你好"}),
    ("admin", "POST", "/admin/templates/welcome/check", {"source": "{{ nobody.name }}"}),
    ("admin", "POST", "/admin/templates/welcome/check", {"source": "{% endfor %}"}),
    ("admin", "POST", "/admin/templates/welcome/save",
     {"source": "您好\n{{ buyer.company[0] }}", "publish": "1"}),
    ("operator", "POST", "/admin/segments/builder", {"g0.mode": "all", "g0.r0.field": "tier",
                                                    "g0.r0.op": "eq", "g0.r0.value": "gold"}),
]  # fmt: skip
ROLES = ("viewer", "operator", "admin")


def _english(texts: list[str]) -> set[str]:
    """Each text (shortened) that holds a word outside the allow-list."""
    return {
        text[:90]
        for text in texts
        if any(w not in ALLOWED for w in WORD.findall(URL.sub("", text)))
    }


def _sign_in(page, demo, role: str) -> str:
    name, _, password = next(login for login in demo.logins if login[1].name == role)
    admin = demo.urls["admin console"]
    page.goto(admin + "login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").wait_for()
    return admin.removesuffix("/admin/")


def test_staff_read_no_english_on_any_console_page(browser, live_demo):
    found: dict[str, set[str]] = {}
    walked = 0
    for role in ROLES:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            origin = _sign_in(page, live_demo, role)
            nav = page.get_by_role("navigation", name="主导航")
            paths = [a.get_attribute("href") for a in nav.locator("a").all()]
            assert "/admin/" in paths, role
            at_or_below = ROLES[: ROLES.index(role) + 1]
            paths += [p for r in at_or_below for p in DETAIL_PAGES[r]]
            for path in paths:
                response = page.goto(origin + path)
                assert response.status == 200, (role, path)
                page.wait_for_load_state("networkidle")
                walked += 1
                if words := _english(page.evaluate(f"({READ_WORDS})(document.body)")):
                    found.setdefault(path, set()).update(words)
            page.goto(origin + "/admin/")
            for needs, method, path, form in PARTIALS:
                if needs not in at_or_below:
                    continue
                status, texts = page.evaluate(READ_PARTIAL, [path, method, form])
                assert status < 500, (role, path, status)
                walked += 1
                if words := _english(texts):
                    found.setdefault(f"{method} {path} {form}", set()).update(words)
        finally:
            context.close()
    assert walked > 60
    assert not found, "\n".join(
        f"{where}: {' | '.join(sorted(texts))}" for where, texts in found.items()
    )
