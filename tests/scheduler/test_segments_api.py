"""The operator API for segments (scheduler/segments_api.py), through create_app with a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_harness import GOLD, call, start_api
from tiers_fixture import GOLD as GOLD_TIER
from tiers_fixture import SILVER

from bot.appkeys import SESSIONMAKER
from members.tiers import TierRuleSet


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    return await start_api(aiohttp_client, make_config, clock)


# --- segments ----------------------------------------------------------------------------


async def test_segments_need_the_token(api):
    assert (await api.get("/api/segments")).status == 401
    assert (await api.post("/api/campaigns/broadcasts", json={})).status == 401


async def test_segment_lifecycle_create_list_get_update_delete(api):
    created = await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 201)
    assert created["name"] == "gold" and created["spec"] == GOLD
    assert [s["name"] for s in (await call(api, "GET", "/api/segments"))["segments"]] == ["gold"]
    assert (await call(api, "GET", "/api/segments/gold"))["spec"] == GOLD
    changed = {"field": "tier", "op": "in", "value": ["gold", "silver"]}
    updated = await call(api, "PUT", "/api/segments/gold", {"spec": changed, "description": "x"})
    assert updated["spec"] == changed and updated["description"] == "x"
    assert await call(api, "DELETE", "/api/segments/gold") == {"deleted": "gold"}
    await call(api, "GET", "/api/segments/gold", status=404)


async def test_saved_segment_preview_gives_count_and_sample(api):
    await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 201)
    preview = await call(api, "GET", "/api/segments/gold/preview?sample=1")
    # oBuyer0 wrote just now, oBuyer1 40 days ago: only one is reached without a template
    assert (preview["count"], preview["reachable"], preview["in_window"]) == (2, 2, 1)
    assert [b["openid"] for b in preview["sample"]] == ["oBuyer0"]
    assert "phone" not in preview["sample"][0]


async def test_unsaved_spec_preview(api):
    spec = {"field": "days_since_interaction", "op": "gte", "value": 30}
    preview = await call(api, "POST", "/api/segments/preview", {"spec": spec})
    assert preview["count"] == 3


async def test_bad_segment_spec_is_a_400_naming_its_path(api):
    spec = {"all": [GOLD, {"field": "tier", "op": "gt", "value": 1}]}
    data = await call(api, "POST", "/api/segments", {"name": "bad", "spec": spec}, 400)
    assert data["field"] == "spec.all[1].op"
    assert "tier does not take operator 'gt'" in data["error"]
    assert (await call(api, "GET", "/api/segments"))["segments"] == []


async def test_a_tier_saved_in_the_console_is_a_value_at_once_and_names_are_hinted(api, clock):
    platinum = {"field": "tier", "op": "eq", "value": "platinum"}
    data = await call(api, "POST", "/api/segments/preview", {"spec": platinum}, 400)
    assert (
        "unknown tier 'platinum'; allowed keys: silver (银卡会员), gold (金卡会员)" in data["error"]
    )
    levels = [SILVER, GOLD_TIER, {"key": "platinum", "name": "铂金会员", "rank": 3}]
    async with api.app[SESSIONMAKER].begin() as session:
        session.add(TierRuleSet(id=1, levels=levels, updated_by="admin", updated_at=clock.now()))
    assert (await call(api, "POST", "/api/segments/preview", {"spec": platinum}))["count"] == 0


async def test_segment_body_validation_names_the_field(api):
    data = await call(api, "POST", "/api/segments", {"name": "x"}, 400)
    assert data["error"].startswith("spec:")


async def test_duplicate_segment_name_is_a_409(api):
    await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 201)
    await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 409)


async def test_segment_used_by_a_live_campaign_cannot_be_deleted(api, clock):
    await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 201)
    body = broadcast(clock, segment_name="gold")
    await call(api, "POST", "/api/campaigns/broadcasts", body, 201)
    data = await call(api, "DELETE", "/api/segments/gold", status=409)
    assert "unfinished campaign" in data["error"]


def broadcast(clock, **extra):
    send_at = (clock.now() + timedelta(hours=1)).isoformat()
    return {"name": "上新通知", "send_at": send_at, "text": "新品到货", **extra}


# --- enumerated fields refuse values no buyer can have ------------------------------------

MISSPELT = [
    ({"field": "tier", "op": "eq", "value": "golden"}, "gold"),
    ({"field": "tier", "op": "in", "value": ["silver", "glod"]}, "silver"),
    ({"field": "tier", "op": "ne", "value": "diamond"}, "gold"),
    ({"field": "business_type", "op": "eq", "value": "taobaoo"}, "taobao"),
    ({"field": "interests", "op": "contains", "value": "女裝"}, "女装"),
    ({"field": "interests", "op": "contains_all", "value": ["女装", "汽车"]}, "男装"),
    ({"field": "customer", "op": "eq", "value": "returned"}, "returning"),
    ({"field": "province", "op": "eq", "value": "广束"}, "广东"),
    ({"field": "city", "op": "in", "value": ["杭州", "Hangzhou"]}, "浙江"),
    ({"field": "region", "op": "eq", "value": "火星"}, "广东"),
]


@pytest.mark.parametrize("spec, allowed", MISSPELT, ids=[s["field"] for s, _ in MISSPELT])
async def test_an_unknown_value_of_an_enumerated_field_is_a_400_naming_the_allowed(
    api, clock, spec, allowed
):
    send_at = (clock.now() + timedelta(hours=1)).isoformat()
    broadcast = {"name": "x", "text": "hi", "segment": spec, "send_at": send_at}
    for method, path, body in [
        ("POST", "/api/segments", {"name": "typo", "spec": spec}),
        ("POST", "/api/segments/preview", {"spec": spec}),
        ("POST", "/api/campaigns/broadcasts", broadcast),
    ]:
        data = await call(api, method, path, body, 400)
        assert allowed in data["error"], data
        assert "value" in data["error"]
    assert (await call(api, "GET", "/api/segments"))["segments"] == []


async def test_known_values_and_their_synonyms_are_accepted(api):
    spec = {
        "all": [
            {"field": "tier", "op": "in", "value": ["gold", "silver"]},
            {"field": "channels", "op": "contains_any", "value": ["tb", "Shopee"]},
            {"field": "interests", "op": "contains", "value": "连衣裙"},
            {"field": "region", "op": "in", "value": ["广东", "杭州市"]},
            {"field": "tags", "op": "contains", "value": "any tag an operator made up"},
        ]
    }
    await call(api, "POST", "/api/segments", {"name": "ok", "spec": spec}, 201)
