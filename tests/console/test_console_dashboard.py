"""总览 routes under the aiohttp client: the page's figures are the API's, range errors are
messages (never 500s), CSV exports are Excel-safe, a drill-down lists exactly its figure's
buyers, and 存为分群 saves an audited segment for operators only."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.appkeys import CONFIG
from console.dashboard_view import Cell, Table, table_csv
from console.models import AuditEntry
from insights.dashboard import dashboard
from insights.demo_history import seed_demo_history
from insights.periods import DateRange, preset
from scheduler.saved_segments import Segment

TZ = ZoneInfo("Asia/Shanghai")


async def seeded(console):
    await seed_demo_history(console.sessionmaker, console.app[CONFIG], console.clock)
    return await console.login_as("viewer")


async def figures(console, period: DateRange, granularity: str = "day"):
    async with console.sessionmaker.begin() as session:
        return await dashboard(
            session, period, granularity, TZ, console.clock, config=console.app[CONFIG]
        )


def chart_json(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S
    )
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def kpi_exact(html: str, key: str) -> str:
    found = re.search(rf'data-kpi="{key}".*?data-exact="([^"]*)"', html, re.S)
    assert found, key
    return unescape(found.group(1))


async def test_page_shows_the_figures_the_api_computes_for_the_range(console):
    headers = await seeded(console)
    resp = await console.client.get("/admin/?range=month&granularity=week", headers=headers)
    assert resp.status == 200
    html = await resp.text()
    period = preset("month", date(2026, 5, 18))
    data = await figures(console, period, "week")
    assert kpi_exact(html, "followers") == f"{data['kpis']['followers']['value']:,.0f}"
    assert kpi_exact(html, "new_customers") == f"{data['kpis']['new_customers']['value']:,.0f}"
    charts = chart_json(html)
    followers = data["followers"]
    assert [r[0] for r in charts["followers"]["rows"]] == followers["buckets"]
    assert [r[1] for r in charts["followers"]["rows"]] == followers["series"]["follows"]
    assert [r[4] for r in charts["followers"]["rows"]] == followers["series"]["followers"]
    assert len(charts["cohorts"]["rows"]) == len(data["cohorts"])
    # One ECharts include, on this page only; the data table and CSV link per chart.
    assert html.count("echarts-5.6.0.min.js") == 1
    assert 'data-table="followers"' in html and "dashboard.csv?chart=followers" in html
    assert "较上期" in html and "ⓘ" in html


async def test_the_net_growth_card_shows_the_change_of_followers_beside_it(console):
    headers = await seeded(console)
    html = await (await console.client.get("/admin/?range=30d", headers=headers)).text()
    data = await figures(console, preset("30d", date(2026, 5, 18)))
    kpis = data["kpis"]
    net, moved = kpis["net"]["value"], kpis["followers"]["value"] - kpis["followers"]["previous"]
    card = html.split('data-kpi="net"', 1)[1].split("</a>", 1)[0]
    assert f"{net:,.0f}" in card and f"累积关注变化 {moved:+,.0f}" in card
    assert "不同于累积关注" in card  # the ⓘ says why the two differ


async def test_the_running_month_of_the_cohorts_is_marked_partial(console):
    headers = await seeded(console)
    html = await (await console.client.get("/admin/?range=month", headers=headers)).text()
    cohorts = chart_json(html)["cohorts"]
    assert cohorts["partial"][-1][2]  # May's own M0: the month is running
    assert "本月尚未结束" in html and "100.0%*" in html


async def test_htmx_request_gets_only_the_dashboard_body(console):
    headers = await seeded(console)
    resp = await console.client.get("/admin/?range=7d", headers=headers | {"HX-Request": "true"})
    html = await resp.text()
    assert resp.status == 200 and "<html" not in html and 'id="dashboard-data"' in html


async def test_empty_account_gets_the_setup_checklist_not_blank_axes(console):
    headers = await console.login_as("viewer")
    html = await (await console.client.get("/admin/", headers=headers)).text()
    for step in ("连接公众号", "欢迎语", "导入订单", "带参二维码"):
        assert step in html
    assert (
        "dashboard-data" not in html
        and "echarts" not in html.split("<body", 1)[1].split("vendor/echarts")[0]
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=custom&from=2026-13-01&to=2026-05-01", "开始日期格式"),
        ("range=custom&from=2026-05-10&to=2026-05-01", "不早于开始日期"),
        ("range=custom&from=2024-01-01&to=2026-05-01&granularity=day", "按周或按月"),
        ("range=forever", "请选择今天"),
        ("granularity=year", "按日、按周或按月"),
    ],
)
async def test_bad_ranges_are_explained_on_the_page(console, query, message):
    headers = await seeded(console)
    resp = await console.client.get(f"/admin/?{query}", headers=headers)
    assert resp.status == 400
    html = await resp.text()
    assert message in html and 'role="alert"' in html
    csv = await console.client.get(f"/admin/dashboard.csv?chart=followers&{query}", headers=headers)
    assert csv.status == 400


async def test_csv_export_is_the_charts_table_with_a_bom(console):
    headers = await seeded(console)
    resp = await console.client.get(
        "/admin/dashboard.csv?chart=followers&range=custom&from=2026-05-01&to=2026-05-07",
        headers=headers,
    )
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    body = await resp.read()
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "时间,新关注,取消关注,净增,累积关注"
    data = await figures(console, DateRange(date(2026, 5, 1), date(2026, 5, 7)))
    assert [line.split(",")[0] for line in lines[1:]] == data["followers"]["buckets"]
    counts = [cell for line in lines[1:] for cell in line.split(",")[1:]]
    assert counts and all(cell.lstrip("-").isdigit() for cell in counts)  # 6, never 6.0
    unknown = await console.client.get("/admin/dashboard.csv?chart=nope", headers=headers)
    assert unknown.status == 400 and "没有这个图表" in await unknown.text()


def test_csv_cells_that_could_run_as_formulas_are_neutralised():
    table = Table("x", "x", ["活动", "净增"])
    for text in ('=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "普通"):
        table.rows.append([Cell(text, text), Cell(-3, "-3")])
    lines = table_csv(table).decode("utf-8-sig").splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == [
        '"\'=HYPERLINK(""http://x"")"',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "普通",
    ]
    assert all(line.endswith(",-3") for line in lines[1:])  # a negative number stays a number


async def test_each_kpi_drills_down_to_as_many_buyers_as_it_shows(console):
    headers = await seeded(console)
    html = await (await console.client.get("/admin/?range=30d", headers=headers)).text()
    data = await figures(console, preset("30d", date(2026, 5, 18)))
    for key in ("followers", "new_customers", "returning_customers", "active_7"):
        link = unescape(re.search(rf'href="([^"]+)" data-kpi="{key}"', html).group(1))
        page = await (await console.client.get(link, headers=headers)).text()
        total = int(re.search(r'data-total="(\d+)"', page).group(1))
        assert total == data["kpis"][key]["value"], key


async def test_drill_down_pages_by_id_and_links_each_buyer(console):
    headers = await seeded(console)
    url = "/admin/dashboard/buyers?figure=followers&from=2026-04-19&to=2026-05-18"
    first = await (await console.client.get(url, headers=headers)).text()
    total = int(re.search(r'data-total="(\d+)"', first).group(1))
    assert total > 50
    ids = [int(i) for i in re.findall(r'<td class="num"><a href="/admin/buyers/(\d+)"', first)]
    assert len(ids) == 50 and ids == sorted(ids)
    next_url = unescape(re.search(r'<a href="([^"]+)">下一页</a>', first).group(1))
    second = await (await console.client.get(next_url, headers=headers)).text()
    more = [int(i) for i in re.findall(r'<td class="num"><a href="/admin/buyers/(\d+)"', second)]
    assert more and min(more) > max(ids)


@pytest.mark.parametrize(
    "query",
    [
        "figure=nope",
        "figure=cohort&month=2026-99&k=1",
        "figure=cohort&month=2026-01&k=12",
        "figure=funnel&stage=paid",
        "figure=followers&from=yesterday",
        "figure=campaign&campaign_id=-1&stage=reached",
        "figure=followers&after=abc",
    ],
)
async def test_bad_drill_downs_are_400_with_a_message(console, query):
    headers = await console.login_as("viewer")
    resp = await console.client.get(f"/admin/dashboard/buyers?{query}", headers=headers)
    assert resp.status == 400 and 'role="alert"' in await resp.text()


async def test_operator_saves_a_tier_figure_as_an_audited_segment(console):
    viewer = await seeded(console)
    query = "figure=tier&tier=gold&from=2026-04-19&to=2026-05-18"
    html = await (
        await console.client.get(f"/admin/dashboard/buyers?{query}", headers=viewer)
    ).text()
    assert "存为分群" not in html.split("</h1>", 1)[1].split("<table", 1)[0] or "<form" not in html
    operator = await console.login_as("operator")
    html = await (
        await console.client.get(f"/admin/dashboard/buyers?{query}", headers=operator)
    ).text()
    assert '<button type="submit">存为分群</button>' in html
    form = {
        "figure": "tier",
        "tier": "gold",
        "from": "2026-04-19",
        "to": "2026-05-18",
        "name": "金卡买家",
    }
    refused = await console.client.post("/admin/dashboard/buyers", data=form, headers=viewer)
    assert refused.status == 403
    no_csrf = {k: v for k, v in operator.items() if k != "X-CSRF-Token"}
    assert (
        await console.client.post("/admin/dashboard/buyers", data=form, headers=no_csrf)
    ).status == 403
    resp = await console.client.post(
        "/admin/dashboard/buyers", data=form, headers=operator, allow_redirects=False
    )
    assert resp.status == 303 and "saved=" in resp.headers["Location"]
    async with console.sessionmaker() as session:
        segment = await session.scalar(select(Segment).where(Segment.name == "金卡买家"))
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "segment.create")
        )
    assert segment.spec == {"field": "tier", "op": "in", "value": ["gold"]}
    assert entry.actor_name == "operator-user" and entry.object_id == str(segment.id)
    again = await console.client.post("/admin/dashboard/buyers", data=form, headers=operator)
    assert again.status == 400 and "已有名为「金卡买家」的分群" in await again.text()


async def test_a_figure_the_segment_language_cannot_say_is_not_saved(console):
    headers = await console.login_as("operator")
    form = {"figure": "follows", "from": "2026-05-01", "to": "2026-05-07", "name": "x"}
    resp = await console.client.post("/admin/dashboard/buyers", data=form, headers=headers)
    assert resp.status == 400 and "无法存为分群" in await resp.text()
    async with console.sessionmaker() as session:
        assert await session.scalar(select(Segment).where(Segment.name == "x")) is None
