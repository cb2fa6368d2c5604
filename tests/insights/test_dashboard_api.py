"""The dashboard's cache and its JSON API: the same figures as the domain functions."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from dashboard_world import SHANGHAI, World, local

from bot.appkeys import SESSIONMAKER
from bot.clock import FakeClock
from bot.config import OrdersConfig
from bot.inbound.events import FOLLOW
from insights.metrics import customer_status, followers
from insights.periods import DateRange
from laoke.app import create_app
from members.order_import import import_csv

AUTH = {"Authorization": "Bearer op-token"}
MAY = DateRange(date(2026, 5, 1), date(2026, 5, 31))


async def test_final_counts_are_cached_until_an_import_touches_their_dates(sessions):
    clock = FakeClock(local(2026, 6, 10))
    async with sessions.begin() as session:
        w = World(session)
        buyer = w.buyer(local(2026, 1, 1), platform_account="wang")
        await w.flush()
        w.order(buyer, local(2026, 5, 6), 10)
        await w.flush()
        assert (await customer_status(session, MAY, "month", SHANGHAI, clock)).series["new"] == [1]
        # A row written behind the dashboard's back is not seen: the count is final, cached.
        w.order(buyer, local(2026, 4, 6), 10)
        await w.flush()
        assert (await customer_status(session, MAY, "month", SHANGHAI, clock)).series["new"] == [1]
    # An import of an April order forgets every count from April on.
    csv = "订单编号,买家会员名,实付金额,订单创建时间,订单状态\nX1,wang,5.00,2026-04-01 10:00:00,交易成功\n"
    await import_csv(sessions, io.BytesIO(csv.encode()), OrdersConfig(), clock.now())
    async with sessions.begin() as session:
        got = await customer_status(session, MAY, "month", SHANGHAI, clock)
    assert got.series["new"] == [0] and got.series["returning"] == [1]


async def test_running_bucket_is_recounted_after_ten_minutes(sessions):
    clock = FakeClock(local(2026, 5, 20))
    async with sessions.begin() as session:
        w = World(session)
        a, b = w.buyer(local(2026, 5, 1)), w.buyer(local(2026, 5, 1))
        await w.flush()
        w.event(a, FOLLOW, local(2026, 5, 2))
        await w.flush()
        assert (await followers(session, MAY, "month", SHANGHAI, clock)).series["follows"] == [1]
        w.event(b, FOLLOW, local(2026, 5, 19))
        await w.flush()
        assert (await followers(session, MAY, "month", SHANGHAI, clock)).series["follows"] == [1]
        clock.advance(minutes=11)
        assert (await followers(session, MAY, "month", SHANGHAI, clock)).series["follows"] == [2]


@pytest.fixture
async def api(aiohttp_client, make_config):
    clock = FakeClock(local(2026, 6, 10))
    config = make_config(api={"token": "op-token"})
    client = await aiohttp_client(create_app(config, clock=clock))
    async with client.app[SESSIONMAKER].begin() as session:
        w = World(session)
        a, b = w.buyer(local(2026, 4, 1)), w.buyer(local(2026, 4, 1))
        await w.flush()
        w.event(a, FOLLOW, local(2026, 4, 1))
        w.event(b, FOLLOW, local(2026, 5, 9))
        w.order(a, local(2026, 5, 3), 120)
        w.order(b, local(2026, 5, 20), 80, counted=False)
        w.message(a, local(2026, 5, 31, 20))
    client.clock = clock
    return client


async def _get(api, path, status=200):
    resp = await api.get(path, headers=AUTH)
    data = await resp.json()
    assert resp.status == status, data
    return data


async def test_dashboard_api_gives_the_domain_functions_figures(api):
    data = await _get(api, "/api/dashboard?from=2026-05-01&to=2026-05-31&granularity=week")
    async with api.app[SESSIONMAKER]() as session:
        direct = await followers(session, MAY, "week", SHANGHAI, api.clock)
        status = await customer_status(session, MAY, "week", SHANGHAI, api.clock)
    assert data["followers"] == direct.as_dict()
    assert data["customers"] == status.as_dict()
    assert data["kpis"]["followers"] == {"value": 2.0, "previous": 1.0, "change": 1.0}
    assert data["kpis"]["new_customers"]["value"] == 1
    assert data["kpis"]["active_7"]["value"] == 1
    # The first week is labelled with the period's first day, not the Monday (04-27) before.
    assert data["followers"]["buckets"][:2] == ["2026-05-01", "2026-05-04"]
    assert data["previous"] == {"from": "2026-04-01", "to": "2026-04-30"}
    assert data["cohorts"][0]["month"] == "2026-05" and data["cohorts"][0]["size"] == 1
    assert [s["name"] for s in data["funnel"]["stages"]][0] == "followed"


async def test_drill_down_api_pages_the_buyers_behind_a_figure(api):
    page = await _get(
        api, "/api/dashboard/buyers?figure=followers&from=2026-05-01&to=2026-05-31&limit=1"
    )
    assert page["total"] == 2 and len(page["buyer_ids"]) == 1
    rest = await _get(
        api,
        f"/api/dashboard/buyers?figure=followers&from=2026-05-01&to=2026-05-31&after={page['next_after']}",
    )
    assert rest["next_after"] is None and rest["buyer_ids"] > page["buyer_ids"]
    tier = await _get(api, "/api/dashboard/buyers?figure=tier&tier=gold")
    assert tier["segment"] == {"field": "tier", "op": "in", "value": ["gold"]}


@pytest.mark.parametrize(
    "query, field",
    [
        ("granularity=hour", "granularity"),
        ("from=yesterday", "from"),
        ("from=2026-05-02&to=2026-05-01", "to"),
        ("from=2020-01-01&to=2026-01-01&granularity=day", "granularity"),
    ],
)
async def test_bad_dashboard_parameters_are_400s_naming_them(api, query, field):
    assert (await _get(api, f"/api/dashboard?{query}", 400))["field"] == field


@pytest.mark.parametrize(
    "query, field",
    [
        ("figure=nope", "figure"),
        ("figure=cohort&k=12", "k"),
        ("figure=cohort&month=May", "month"),
        ("figure=funnel&stage=paid", "stage"),
        ("figure=new&limit=0", "limit"),
        ("figure=new&after=-1", "after"),
        ("figure=campaign&stage=reached", "stage"),
    ],
)
async def test_bad_drill_down_parameters_are_400s_naming_them(api, query, field):
    assert (await _get(api, f"/api/dashboard/buyers?{query}", 400))["field"] == field


def test_period_helpers_take_whole_months_as_months():
    from insights.periods import previous

    assert previous(DateRange(date(2026, 3, 1), date(2026, 3, 31))) == DateRange(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    week = DateRange(date(2026, 5, 18), date(2026, 5, 24))
    assert previous(week).start == date(2026, 5, 18) - timedelta(days=7)


async def test_a_running_year_is_recounted_hourly_its_running_month_every_ten_minutes(sessions):
    clock = FakeClock(local(2026, 5, 20))
    year = DateRange(date(2025, 6, 1), date(2026, 5, 31))
    async with sessions.begin() as session:
        w = World(session)
        a, b = w.buyer(local(2026, 5, 1)), w.buyer(local(2026, 5, 1))
        await w.flush()
        w.event(a, FOLLOW, local(2026, 5, 2))
        await w.flush()
        await followers(session, year, "month", SHANGHAI, clock)
        w.event(b, FOLLOW, local(2026, 5, 19))
        await w.flush()
        clock.advance(minutes=11)
        got = await followers(session, year, "month", SHANGHAI, clock)
        assert got.series["follows"][-1] == 2 and got.kpis["follows"].value == 1
        clock.advance(minutes=50)
        got = await followers(session, year, "month", SHANGHAI, clock)
        assert got.kpis["follows"].value == 2
