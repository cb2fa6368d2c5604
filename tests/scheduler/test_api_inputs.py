"""Inputs that used to answer 500 from the operator API: each is a 400 or 404 now.

Found by schemathesis and by hand (issue 9, item 5); ``tests/bot/test_api_schemathesis.py``
keeps generating more of the same kind.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_harness import AUTH, GOLD, call, start_api


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    return await start_api(aiohttp_client, make_config, clock)


def broadcast(clock, **changes):
    send_at = (clock.now() + timedelta(hours=2)).isoformat()
    return {"name": "周末上新", "text": "新品到了", "segment": GOLD, "send_at": send_at} | changes


def livestream(clock, **changes):
    start_at = (clock.now() + timedelta(days=2)).isoformat()
    return {"name": "直播", "title": "春装", "start_at": start_at, "segment": GOLD} | changes


BIG = 2**64 + 1

BAD_SPECS = [
    {"field": "rsvp", "op": "eq", "value": BIG},
    {"field": "rsvp", "op": "in", "value": [1, 2**63]},
    {"field": "orders_total", "op": "gt", "value": BIG},
    {"field": "spend_12m", "op": "between", "value": [0, 1e308]},
    {"field": "days_since_interaction", "op": "gte", "value": 1e15},
    {"field": "days_since_follow", "op": "between", "value": [0, BIG]},
]


@pytest.mark.parametrize("spec", BAD_SPECS, ids=[s["field"] for s in BAD_SPECS])
async def test_huge_numbers_in_a_segment_are_a_400(api, spec):
    await call(api, "POST", "/api/segments/preview", {"spec": spec}, 400)
    await call(api, "POST", "/api/segments", {"name": "huge", "spec": spec}, 400)


@pytest.mark.parametrize("raw", ["²", "٣", "３", str(BIG), "1e3", "-1", " 3"])
async def test_a_campaign_id_is_ascii_digits_within_bigint(api, clock, raw):
    for _ in range(3):  # campaign 3 exists: "٣" must not answer it
        await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201)
    for suffix in ("", "/preview", "/report"):
        resp = await api.get(f"/api/campaigns/{raw}{suffix}", headers=AUTH)
        assert resp.status == 404, (raw, suffix, await resp.text())
    resp = await api.post(f"/api/campaigns/{raw}/pause", headers=AUTH)
    assert resp.status == 404


@pytest.mark.parametrize("query", ["sample=²", "sample=٣", f"sample={BIG}", "sample=-1"])
async def test_a_sample_size_is_ascii_digits(api, query):
    await call(api, "POST", "/api/segments", {"name": "gold", "spec": GOLD}, 201)
    await call(api, "GET", f"/api/segments/gold/preview?{query}", status=400)


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "1970-01-01T00:00:00Z"]
)
async def test_times_far_from_now_are_a_400_naming_the_field(api, clock, when):
    data = await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock, send_at=when), 400)
    assert data["error"].startswith("send_at")
    data = await call(
        api, "POST", "/api/campaigns/livestreams", livestream(clock, start_at=when), 400
    )
    assert data["error"].startswith("start_at")
    body = {"key": "gold", "reason": "VIP", "until": when}
    await call(api, "PUT", "/api/buyers/oBuyer0/tier", body, 400)


async def test_huge_offsets_and_dormancy_are_a_400(api, clock):
    await call(
        api, "POST", "/api/campaigns/livestreams", livestream(clock, offsets_s=[10**12]), 400
    )
    await call(api, "POST", "/api/campaigns/livestreams", livestream(clock, offsets_s=[BIG]), 400)
    start, end = clock.now() + timedelta(hours=1), clock.now() + timedelta(days=3)
    recall = {
        "name": "召回",
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "dormant_days": 10**12,
    }
    await call(api, "POST", "/api/campaigns/recalls", recall, 400)


@pytest.mark.parametrize("amount", [1e308, -1e308, "1e999999", "9" * 400])
async def test_absurd_amounts_are_refused_not_a_500(api, amount):
    row = {"order_no": "T1", "account": "a", "amount": amount, "created_at": "2026-05-01 10:00"}
    resp = await api.post("/api/orders", json={"rows": [row]}, headers=AUTH)
    assert resp.status in (400, 201), await resp.text()
    if resp.status == 201:  # refused as a bad row, nothing stored
        assert (await resp.json())["inserted"] == 0


async def test_an_infinite_json_number_is_a_400(api):
    body = b'{"rows": [{"order_no": "T1", "amount": 1e999999, "created_at": "2026-05-01"}]}'
    resp = await api.post(
        "/api/orders", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 400


async def test_json_nested_5000_deep_is_a_400(api):
    for body in ('{"spec": ' + "[" * 5000 + "]" * 5000 + "}", "[" * 5000 + "]" * 5000):
        resp = await api.post(
            "/api/segments/preview",
            data=body,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert resp.status == 400, await resp.text()
    deep: dict = {"field": "tier", "op": "eq", "value": "gold"}
    for _ in range(200):
        deep = {"not": deep}
    await call(api, "POST", "/api/segments/preview", {"spec": deep}, 400)


async def test_csv_with_an_unusable_encoding_is_a_400(api):
    csv = "订单编号,买家会员名,实付款,订单创建时间\nT1,a,1,2026-05-01 10:00\n"
    for encoding, data in [
        ("utf-16", csv.encode("utf-16")),
        ("utf-16", csv.encode()),
        ("rot13", csv.encode()),
        ("nonsense", csv.encode()),
    ]:
        resp = await api.post(f"/api/orders/csv?encoding={encoding}", data=data, headers=AUTH)
        assert resp.status == 400, (encoding, await resp.text())


@pytest.mark.parametrize(
    "body",
    [
        b"--xyz\r\nContent-Disposition: form-data; name=file; filename=a.csv\r\n\r\nT1,a",
        b"no boundary at all",
        b"--xyz\r\n\r\n\r\n--xyz--\r\n",
        b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n',
    ],
)
async def test_malformed_multipart_on_the_csv_route_is_a_400(api, body):
    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}
    resp = await api.post("/api/orders/csv", data=body, headers=headers)
    assert resp.status == 400, await resp.text()


async def test_a_message_template_that_does_not_exist_is_refused_at_save(api, clock):
    for name in ("0", "no_such_template"):
        data = await call(
            api, "POST", "/api/campaigns/broadcasts", broadcast(clock, message_template=name), 400
        )
        assert "message_template" in data["error"]
    assert (await call(api, "GET", "/api/campaigns"))["campaigns"] == []


@pytest.mark.parametrize("query", ["limit=٣", "limit=²", f"limit={BIG}"])
async def test_tier_change_limit_is_ascii_digits(api, query):
    await call(api, "GET", f"/api/tier-changes?{query}", status=400)


async def test_a_campaign_status_filter_names_the_statuses(api):
    data = await call(api, "GET", "/api/campaigns?status=runing", status=400)
    assert "running" in data["error"]


async def test_the_openapi_document_resolves_every_ref_and_declares_the_answers(api):
    doc = await (await api.get("/api/openapi.json")).json()
    text = str(doc)
    assert "$defs" not in text
    schemas = doc["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(doc))
    assert "#/components/schemas/OrderIn" in found
    for ref in found:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    create = doc["paths"]["/api/segments"]["post"]["responses"]
    assert {"201", "400", "401", "409"} <= set(create)
    assert {"200", "404"} <= set(doc["paths"]["/api/campaigns/{id}"]["get"]["responses"])
    assert "200" in doc["paths"]["/api/campaigns/{id}/pause"]["post"]["responses"]


async def test_a_stored_campaign_whose_template_is_gone_previews_as_a_409(api, clock):
    from sqlalchemy import update

    from bot.appkeys import SESSIONMAKER
    from scheduler.models import Campaign

    cid = (await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201))["id"]
    async with api.app[SESSIONMAKER].begin() as session:  # as an older version accepted it
        await session.execute(update(Campaign).values(message_template="0"))
    data = await call(api, "GET", f"/api/campaigns/{cid}/preview", status=409)
    assert data["field"] == "message_template"
