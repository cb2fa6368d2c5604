"""客户 → 分群 (console/pages/segments.py) through the app: the builder, its preview partial,
errors placed on their row, save / rename / delete (refused while campaigns use it), 存为分群
from another page, and who may open it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import ConsoleClient
from sqlalchemy import select
from tiers_fixture import GOLD as GOLD_TIER
from tiers_fixture import SILVER

from bot.models import Buyer
from console.models import AuditEntry
from laoke.app import create_app
from members.tiers import TierRuleSet
from scheduler.models import DONE, DRAFT, LIVESTREAM, Campaign
from scheduler.saved_segments import Segment

GOLD = {"field": "tier", "op": "eq", "value": "gold"}
PLATINUM = {"key": "platinum", "name": "铂金会员", "rank": 3, "min_spend": 50000}


@pytest.fixture
async def seg(aiohttp_client, make_config, clock) -> ConsoleClient:
    """The console with buyers 买家0-3: gold, gold, silver, none; 买家0 wrote just now."""
    app = create_app(make_config(tiers={"levels": [SILVER, GOLD_TIER]}), clock=clock)
    client = ConsoleClient(await aiohttp_client(app), app, clock)
    now = clock.now()
    async with client.sessionmaker.begin() as session:
        for i, tier in enumerate(["gold", "gold", "silver", None]):
            session.add(
                Buyer(
                    openid=f"oBuyer{i}", tier_key=tier, first_seen_at=now, subscribed_at=now,
                    last_interaction_at=now - timedelta(days=40 * i), display_name=f"买家{i}",
                    tags=[], channels=[], interests=["女装"] if i < 3 else ["男装"],
                    province="广东省" if i % 2 else "浙江省", business_type="taobao",
                    opted_out=i == 1,
                )
            )  # fmt: skip
    return client


def form(rows, mode="all", **extra):
    """The builder's form fields for one group of (field, op, value) rows."""
    data = {"g0.mode": mode}
    for i, (field, op, value) in enumerate(rows):
        data |= {f"g0.r{i}.field": field, f"g0.r{i}.op": op, f"g0.r{i}.value": value}
    return data | extra


async def test_preview_partial_counts_and_summarises_the_form(seg):
    headers = await seg.login_as("operator") | {"HX-Request": "true"}
    data = form([("tier", "in", "gold、silver"), ("interests", "contains", "女装")])
    resp = await seg.client.post("/admin/segments/preview", data=data, headers=headers)
    html = await resp.text()
    assert resp.status == 200
    assert 'id="count-matching">3<' in html and 'id="count-reachable">2<' in html
    assert 'id="count-window">1<' in html and 'id="count-template">1<' in html
    assert "金卡会员或银卡会员，兴趣含女装" in html  # the summary, swapped out of band
    assert "<html" not in html  # a partial
    assert "/admin/buyers/1" in html  # sample buyers link to their page


async def test_tiers_are_typed_by_name_or_key_and_stored_as_keys(seg):
    headers = await seg.login_as("operator")
    data = form([("tier", "in", "金卡会员、silver")], name="金银")
    resp = await seg.client.post("/admin/segments/save", data=data, headers=headers)
    assert resp.status == 200  # redirected to the saved segment
    async with seg.sessionmaker() as session:
        saved = await session.scalar(select(Segment).where(Segment.name == "金银"))
    assert saved.spec == {"all": [{"field": "tier", "op": "in", "value": ["gold", "silver"]}]}
    hx = headers | {"HX-Request": "true"}
    html = await (await seg.client.post("/admin/segments/preview", data=data, headers=hx)).text()
    assert 'id="count-matching">3<' in html and "金卡会员或银卡会员" in html
    page = await (await seg.client.get("/admin/segments", headers=headers)).text()
    assert '<option value="金卡会员" label="2 人">' in page  # suggested by name, with a count


async def test_a_tier_added_on_the_tier_page_is_a_value_at_once(seg):
    admin = await seg.login_as("admin")
    async with seg.sessionmaker.begin() as session:
        session.add(TierRuleSet(id=1, levels=[SILVER, GOLD_TIER, PLATINUM], updated_by="admin",
                                updated_at=seg.clock.now()))  # fmt: skip
    hx = admin | {"HX-Request": "true"}
    data = form([("tier", "eq", "铂金会员")])
    html = await (await seg.client.post("/admin/segments/preview", data=data, headers=hx)).text()
    assert 'id="count-matching">0<' in html and 'id="err-g0-r0" hx-swap-oob="true"><' in html
    data = form([("tier", "eq", "钻石")])
    html = await (await seg.client.post("/admin/segments/preview", data=data, headers=hx)).text()
    assert "没有「钻石」这个会员等级；可选：银卡会员、金卡会员、铂金会员" in html


async def test_preview_without_htmx_is_the_whole_page(seg):
    headers = await seg.login_as("operator")
    resp = await seg.client.post(
        "/admin/segments/preview", data=form([("tier", "eq", "gold")]), headers=headers
    )
    html = await resp.text()
    assert resp.status == 200 and "<html" in html and 'id="count-matching">2<' in html


async def test_a_wrong_value_is_shown_on_its_row_not_counted(seg):
    headers = await seg.login_as("operator") | {"HX-Request": "true"}
    data = form([("tier", "eq", "gold"), ("tier", "eq", "golden"), ("orders_12m", "gte", "abc")])
    resp = await seg.client.post("/admin/segments/preview", data=data, headers=headers)
    html = await resp.text()
    assert 'id="err-g0-r2" hx-swap-oob="true">请填写数字<' in html  # parse error: its row
    assert 'id="err-g0-r0" hx-swap-oob="true"><' in html  # the good row has none
    assert "count-matching" not in html
    data = form([("tier", "eq", "gold"), ("tier", "eq", "golden")])
    html = await (
        await seg.client.post("/admin/segments/preview", data=data, headers=headers)
    ).text()
    row = html.split('id="err-g0-r1"')[1]
    assert "没有「golden」这个会员等级；可选：银卡会员、金卡会员" in row
    assert 'id="err-g0-r0" hx-swap-oob="true"><' in html


async def test_synonyms_are_echoed_and_translated(seg):
    headers = await seg.login_as("operator") | {"HX-Request": "true"}
    data = form([("business_type", "eq", "淘宝"), ("region", "eq", "广东")])
    html = await (
        await seg.client.post("/admin/segments/preview", data=data, headers=headers)
    ).text()
    typed = '<span translate="no">{}</span> → {}'
    assert (
        typed.format("淘宝", "淘宝/天猫等网店") in html and typed.format("广东", "广东省") in html
    )
    assert 'id="count-matching">2<' in html  # 买家1 and 买家3 are in 广东省


async def test_builder_adds_and_removes_rows_and_offers_the_fields_operators(seg):
    headers = await seg.login_as("operator")
    data = form([("days_since_interaction", "between", "")], act="add-row:0")
    html = await (
        await seg.client.post("/admin/segments/builder", data=data, headers=headers)
    ).text()
    assert 'name="g0.r1.field"' in html  # the added row
    assert 'aria-label="最大值"' in html  # between has two inputs
    assert '<optgroup label="会员与订单">' in html and ">未互动天数<" in html
    data = form([("tier", "eq", "gold"), ("tier", "eq", "silver")], act="del-row:0:0")
    html = await (
        await seg.client.post("/admin/segments/builder", data=data, headers=headers)
    ).text()
    assert 'name="g0.r1.field"' not in html and 'value="silver"' in html


async def test_save_redirects_to_the_segment_and_audits(seg):
    headers = await seg.login_as("operator")
    data = form([("tier", "eq", "gold")], name="金卡", description="全部金卡")
    resp = await seg.client.post(
        "/admin/segments/save", data=data, headers=headers, allow_redirects=False
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/admin/segments?name=%E9%87%91%E5%8D%A1"
    async with seg.sessionmaker() as session:
        saved = await session.scalar(select(Segment))
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "segment.create")
        )
    assert saved.spec == {"all": [GOLD]} and saved.description == "全部金卡"
    assert entry.after["name"] == "金卡"
    page = await (await seg.client.get(resp.headers["Location"], headers=headers)).text()
    assert "被" not in page.split("seg-list")[1].split("</ul>")[0] or "未被活动使用" in page
    assert 'value="金卡会员"' in page and "用此分群建活动" in page  # the tier by its name


async def test_save_refuses_a_bad_spec_and_a_taken_name(seg):
    headers = await seg.login_as("operator")
    bad = form([("tier", "eq", "golden")], name="x")
    resp = await seg.client.post("/admin/segments/save", data=bad, headers=headers)
    assert resp.status == 400 and "没有「golden」这个会员等级" in (await resp.text())
    ok = form([("tier", "eq", "gold")], name="x")
    assert (await seg.client.post("/admin/segments/save", data=ok, headers=headers)).status == 200
    resp = await seg.client.post("/admin/segments/save", data=ok, headers=headers)
    assert resp.status == 400 and "已有名为「x」的分群" in await resp.text()


async def test_rename_moves_the_campaigns_along(seg):
    headers = await seg.login_as("operator")
    await seg.client.post(
        "/admin/segments/save", data=form([GOLD.values()], name="a"), headers=headers
    )
    await _campaign(seg, "a", DRAFT)
    data = form([("tier", "eq", "gold")], name="b", original="a")
    resp = await seg.client.post(
        "/admin/segments/save", data=data, headers=headers, allow_redirects=False
    )
    assert resp.status == 303
    async with seg.sessionmaker() as session:
        assert await session.scalar(select(Campaign.segment_name)) == "b"
        assert [s.name for s in await session.scalars(select(Segment))] == ["b"]


async def _campaign(seg, segment_name, status, name="5·18 召回"):
    now = seg.clock.now()
    async with seg.sessionmaker.begin() as session:
        session.add(
            Campaign(name=name, kind=LIVESTREAM, status=status, segment_name=segment_name,
                     params={}, created_at=now, updated_at=now)
        )  # fmt: skip


async def test_delete_is_refused_naming_the_campaigns_that_use_it(seg):
    headers = await seg.login_as("operator")
    await seg.client.post(
        "/admin/segments/save", data=form([GOLD.values()], name="a"), headers=headers
    )
    await _campaign(seg, "a", DRAFT, "新品直播")
    await _campaign(seg, "a", DONE, "旧活动")
    resp = await seg.client.post(
        "/admin/segments/delete", data={"name": "a", "confirm": "a"}, headers=headers
    )
    html = await resp.text()
    assert resp.status == 409
    error = html.split('id="seg-error">')[1].split("</p>")[0]
    assert error == "分群「a」正被 1 个活动使用，不能删除：「新品直播」（#1）"
    assert "被 1 个活动使用" in html.split("seg-list")[1]  # the list says so too
    async with seg.sessionmaker() as session:
        assert await session.scalar(select(Segment.name)) == "a"


async def test_delete_an_unused_segment(seg):
    headers = await seg.login_as("operator")
    await seg.client.post(
        "/admin/segments/save", data=form([GOLD.values()], name="a"), headers=headers
    )
    resp = await seg.client.post("/admin/segments/delete", data={"name": "a"}, headers=headers)
    assert resp.status == 400 and "请输入分群名称「a」以确认删除" in await resp.text()
    resp = await seg.client.post(
        "/admin/segments/delete",
        data={"name": "a", "confirm": "a"},
        headers=headers,
        allow_redirects=False,
    )
    assert resp.status == 303
    async with seg.sessionmaker() as session:
        assert await session.scalar(select(Segment)) is None
        assert await session.scalar(
            select(AuditEntry.action).where(AuditEntry.action == "segment.delete")
        )
    resp = await seg.client.post(
        "/admin/segments/delete", data={"name": "a", "confirm": "a"}, headers=headers
    )
    assert resp.status == 404


async def test_from_spec_saves_and_opens_the_segment(seg):
    headers = await seg.login_as("operator")
    spec = {"all": [GOLD, {"not": {"field": "opted_out", "op": "eq", "value": True}}]}
    resp = await seg.client.post(
        "/admin/segments/from-spec", data={"name": "来自买家列表", "spec": json.dumps(spec)},
        headers=headers, allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303 and "name=" in resp.headers["Location"]
    async with seg.sessionmaker() as session:
        assert (await session.scalar(select(Segment))).spec == spec
        assert await session.scalar(select(AuditEntry.action)) == "segment.create"
    page = await (await seg.client.get(resp.headers["Location"], headers=headers)).text()
    assert "金卡会员，排除已退订" in page


@pytest.mark.parametrize(
    "spec, message",
    [("{not json", "JSON 格式错误"), ("[1]", "必须是 JSON 对象"), ('{"field": "x"}', "field")],
)
async def test_from_spec_refuses_bad_input_with_400(seg, spec, message):
    headers = await seg.login_as("operator")
    resp = await seg.client.post(
        "/admin/segments/from-spec", data={"name": "x", "spec": spec}, headers=headers
    )
    assert resp.status == 400 and message in await resp.text()


async def test_starters_prefill_the_builder(seg):
    headers = await seg.login_as("operator")
    page = await (await seg.client.get("/admin/segments", headers=headers)).text()
    assert "还没有保存的分群" in page and "沉睡金卡" in page and "广东老客" in page
    page = await (await seg.client.get("/admin/segments?starter=沉睡金卡", headers=headers)).text()
    assert "金卡会员，30 天未互动，排除已退订" in page and 'value="金卡会员"' in page


async def test_json_that_the_builder_cannot_show_is_edited_as_json(seg):
    headers = await seg.login_as("operator")
    deep = {"any": [{"all": [GOLD, {"any": [GOLD]}]}]}
    data = {"mode": "builder", "act": "json", "spec_json": json.dumps(deep)}
    html = await (
        await seg.client.post("/admin/segments/builder", data=data, headers=headers)
    ).text()
    assert 'name="mode" value="json"' in html and 'id="count-matching">2<' in html


async def test_viewers_may_not_open_segments(seg):
    headers = await seg.login_as("viewer")
    assert (await seg.client.get("/admin/segments", headers=headers)).status == 403
    resp = await seg.client.post(
        "/admin/segments/from-spec", data={"name": "x", "spec": "{}"}, headers=headers
    )
    assert resp.status == 403
