"""The operator API for campaigns (scheduler/campaigns_api.py), through create_app with a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_harness import GOLD, call, start_api


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    return await start_api(aiohttp_client, make_config, clock)


# --- campaigns ---------------------------------------------------------------------------


def broadcast(clock, **extra):
    send_at = (clock.now() + timedelta(hours=1)).isoformat()
    return {"name": "上新通知", "send_at": send_at, "text": "新品到货", **extra}


def livestream(clock, **extra):
    start = (clock.now() + timedelta(days=2)).isoformat()
    return {"name": "直播", "title": "春季新品", "start_at": start, "link": "https://l", **extra}


def recall(clock, **extra):
    start = clock.now() + timedelta(days=1)
    return {
        "name": "5·18 召回",
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(days=1)).isoformat(),
        "waves": [(start + timedelta(hours=h)).isoformat() for h in (0, 12)],
        "dormant_days": 30,
        "all_day": True,
        **extra,
    }


async def test_each_kind_is_created_as_a_draft_with_its_steps(api, clock):
    live = await call(api, "POST", "/api/campaigns/livestreams", livestream(clock), 201)
    assert live["kind"] == "livestream" and live["status"] == "draft"
    assert [s["kind"] for s in live["steps"]] == ["announce", "reminder", "reminder", "start"]
    rec = await call(api, "POST", "/api/campaigns/recalls", recall(clock), 201)
    assert rec["kind"] == "recall" and [s["kind"] for s in rec["steps"]] == ["wave", "wave"]
    b = await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201)
    assert b["kind"] == "broadcast" and len(b["steps"]) == 1
    listed = await call(api, "GET", "/api/campaigns?kind=recall")
    assert [c["id"] for c in listed["campaigns"]] == [rec["id"]]
    assert len((await call(api, "GET", "/api/campaigns"))["campaigns"]) == 3


async def test_campaign_validation_names_the_field(api, clock):
    data = await call(api, "POST", "/api/campaigns/broadcasts", {"name": "x", "text": "t"}, 400)
    assert data["error"].startswith("send_at:")
    data = await call(
        api,
        "POST",
        "/api/campaigns/livestreams",
        livestream(clock, start_at="2020-01-01T00:00:00Z"),
        400,
    )
    assert data["field"] == "start_at"


async def test_campaign_with_bad_inline_segment_is_refused(api, clock):
    body = broadcast(clock, segment={"field": "colour", "op": "eq", "value": "red"})
    data = await call(api, "POST", "/api/campaigns/broadcasts", body, 400)
    assert "unknown field 'colour'" in data["error"]


async def test_campaign_naming_a_missing_saved_segment_is_refused(api, clock):
    body = broadcast(clock, segment_name="nope")
    data = await call(api, "POST", "/api/campaigns/broadcasts", body, 400)
    assert data["field"] == "segment_name" and "no segment named 'nope'" in data["error"]


async def test_schedule_pause_resume_cancel_move_the_campaign(api, clock):
    cid = (await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201))["id"]
    assert (await call(api, "POST", f"/api/campaigns/{cid}/schedule"))["status"] == "scheduled"
    assert (await call(api, "POST", f"/api/campaigns/{cid}/pause"))["status"] == "paused"
    assert (await call(api, "POST", f"/api/campaigns/{cid}/resume"))["status"] == "scheduled"
    assert (await call(api, "POST", f"/api/campaigns/{cid}/cancel"))["status"] == "cancelled"
    refused = await call(api, "POST", f"/api/campaigns/{cid}/resume", status=409)
    assert "cannot resume" in refused["error"]
    got = await call(api, "GET", f"/api/campaigns/{cid}")
    assert got["status"] == "cancelled" and got["steps"][0]["status"] == "cancelled"


async def test_unknown_campaign_is_a_404(api):
    await call(api, "GET", "/api/campaigns/999", status=404)
    await call(api, "POST", "/api/campaigns/999/pause", status=404)
    await call(api, "GET", "/api/campaigns/abc/report", status=404)


async def test_preview_renders_the_message_for_sample_buyers(api, clock):
    body = livestream(clock, segment=GOLD)
    cid = (await call(api, "POST", "/api/campaigns/livestreams", body, 201))["id"]
    preview = await call(api, "GET", f"/api/campaigns/{cid}/preview?sample=5")
    assert [m["openid"] for m in preview["messages"]] == ["oBuyer0", "oBuyer1"]
    assert all("春季新品" in m["text"] for m in preview["messages"])


async def test_report_of_a_new_campaign(api, clock):
    cid = (await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201))["id"]
    report = await call(api, "GET", f"/api/campaigns/{cid}/report")
    assert report["campaign"]["id"] == cid and report["recipients"] == 0
    assert set(report["outcomes"]) == {"sent", "failed", "skipped", "uncertain", "pending"}
    assert set(report["conversion"]) >= {"reached", "replied_48h", "ordered_7d"}


async def test_openapi_lists_segment_and_campaign_endpoints(api):
    doc = await (await api.get("/api/openapi.json")).json()
    paths = doc["paths"]
    for path, method in [
        ("/api/segments", "post"),
        ("/api/segments/{name}", "put"),
        ("/api/segments/{name}/preview", "get"),
        ("/api/campaigns/livestreams", "post"),
        ("/api/campaigns/recalls", "post"),
        ("/api/campaigns/broadcasts", "post"),
        ("/api/campaigns/{id}/schedule", "post"),
        ("/api/campaigns/{id}/cancel", "post"),
        ("/api/campaigns/{id}/report", "get"),
        ("/api/campaigns/{id}", "put"),
    ]:
        assert method in paths[path], path
    body = paths["/api/campaigns/livestreams"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/LivestreamSpec"
    assert "start_at" in doc["components"]["schemas"]["LivestreamSpec"]["properties"]


async def test_a_draft_is_edited_with_put_and_only_while_a_draft(api, clock):
    cid = (await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201))["id"]
    # Any kind may replace the draft: the broadcast becomes a livestream with its steps.
    edited = await call(api, "PUT", f"/api/campaigns/{cid}", {"kind": "livestream",
                        **livestream(clock, offsets_s=[3600])})  # fmt: skip
    assert edited["id"] == cid and edited["kind"] == "livestream" and edited["name"] == "直播"
    assert [s["kind"] for s in edited["steps"]] == ["announce", "reminder", "start"]
    assert "reach" in edited
    got = await call(api, "GET", f"/api/campaigns/{cid}")
    assert got["params"]["title"] == "春季新品" and len(got["steps"]) == 3
    bad = await call(api, "PUT", f"/api/campaigns/{cid}",
                     {"kind": "broadcast", **broadcast(clock, send_at="soon")}, 400)  # fmt: skip
    assert bad["problems"][0]["field"] == "broadcast.send_at"  # the kind, then the field
    past = broadcast(clock, segment_name="nope")
    refused = await call(api, "PUT", f"/api/campaigns/{cid}", {"kind": "broadcast", **past}, 400)
    assert refused["field"] == "segment_name"
    await call(api, "POST", f"/api/campaigns/{cid}/schedule")
    late = await call(api, "PUT", f"/api/campaigns/{cid}", {"kind": "broadcast",
                      **broadcast(clock)}, 409)  # fmt: skip
    assert "cannot edit" in late["error"]
    assert (await call(api, "GET", f"/api/campaigns/{cid}"))["kind"] == "livestream"
    await call(api, "PUT", "/api/campaigns/999", {"kind": "broadcast", **broadcast(clock)}, 404)
