"""总览 in headless Chromium, as a viewer: the charts are drawn, the KPI cards and a chart's
数据表 show what ``GET /api/dashboard`` returns for the same range, switching the range puts
it in the URL, and a KPI opens exactly as many buyers as it counts."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from live_server import SHOTS

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from insights.demo_history import seed_demo_history

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"
CHARTS = ("followers", "customers", "cohorts", "interaction", "funnel", "tiers", "campaigns")


def api(live, path: str) -> dict:
    request = urllib.request.Request(
        live.url + path, headers={"Authorization": "Bearer service-token-1"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", ""))


def test_viewer_sees_the_apis_figures_drawn_and_drills_into_them(browser_page, live_console):
    page, live = browser_page, live_console
    app = live.app
    live.run(seed_demo_history(app[SESSIONMAKER], app[CONFIG], app[CLOCK]))
    live.add_user("vic", "viewer")
    page.goto(live.url + "/admin/")
    page.get_by_label("用户名").fill("vic")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live.url + "/admin/")

    for chart in CHARTS:  # every chart drawn on a canvas
        page.locator(f'[data-chart="{chart}"] canvas').first.wait_for()

    data = api(live, "/api/dashboard")  # the default: the last 30 days, by day
    cards = page.locator(".kpi-value")
    shown = {
        page.locator(".kpi").nth(i).get_attribute("data-kpi"): cards.nth(i).get_attribute(
            "data-exact"
        )
        for i in range(cards.count())
    }
    for key in ("followers", "new_customers", "returning_customers", "active_7"):
        assert number(shown[key]) == data["kpis"][key]["value"], key
    share = data["kpis"]["window_share"]["value"]
    assert shown["window_share"] == f"{share * 100:.1f}%"

    page.locator('[data-table="followers"] summary').click()
    rows = page.locator('[data-table="followers"] tbody tr')
    assert rows.count() == len(data["followers"]["buckets"])
    follows = [number(rows.nth(i).locator("td").nth(0).inner_text()) for i in range(rows.count())]
    assert follows == data["followers"]["series"]["follows"]
    page.locator('[data-table="followers"] summary').click()

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard.png"))

    page.get_by_role("link", name="近7天").click()
    page.wait_for_url(re.compile(r"range=7d"))
    page.locator('[data-chart="followers"] canvas').first.wait_for()
    week = api(live, "/api/dashboard?from={}&to={}".format(
        page.locator('input[name="from"]').input_value(),
        page.locator('input[name="to"]').input_value(),
    ))  # fmt: skip
    assert len(week["followers"]["buckets"]) == 7
    assert number(page.locator('[data-kpi="returning_customers"] .kpi-value').get_attribute(
        "data-exact"
    )) == week["kpis"]["returning_customers"]["value"]  # fmt: skip

    page.locator('[data-kpi="returning_customers"]').click()
    page.wait_for_url(re.compile(r"/admin/dashboard/buyers\?figure=returning"))
    total = page.locator("[data-total]").get_attribute("data-total")
    assert int(total) == week["kpis"]["returning_customers"]["value"]
    assert page.locator('a[href^="/admin/buyers/"]').count() == min(int(total), 50) * 2
    assert int(total) > 0
