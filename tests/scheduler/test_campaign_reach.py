"""Creation, preview and scheduling say how many recipients can be reached, and how."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from api_harness import call, start_api
from test_operator_cli import laoke  # noqa: F401  (the CLI fixture)

from bot.clock import Clock
from bot.database import create_engine, sessionmaker
from bot.models import Buyer


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    """oBuyer0 wrote today (in the 48-hour window); oBuyer1-3 40, 80, 120 days ago."""
    return await start_api(aiohttp_client, make_config, clock)


def recall(clock, **extra):
    start = clock.now() + timedelta(days=1)
    return {
        "name": "召回",
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(days=1)).isoformat(),
        **extra,
    }


def broadcast(clock, **extra):
    send_at = (clock.now() + timedelta(hours=1)).isoformat()
    return {"name": "上新", "send_at": send_at, "text": "新品到货", **extra}


async def test_a_recall_without_template_warns_that_nobody_can_be_reached(api, clock):
    created = await call(api, "POST", "/api/campaigns/recalls", recall(clock), 201)
    assert created["reach"] == {
        "recipients": 3,
        "customer_service": 0,
        "template": 0,
        "unreachable": 3,
    }
    [warning] = created["warnings"]
    assert "3 of 3 recipients are outside WeChat's 48-hour window" in warning
    assert "template_id" in warning
    preview = await call(api, "GET", f"/api/campaigns/{created['id']}/preview")
    assert preview["reach"] == created["reach"] and preview["warnings"] == created["warnings"]
    scheduled = await call(api, "POST", f"/api/campaigns/{created['id']}/schedule")
    assert scheduled["status"] == "scheduled" and scheduled["warnings"] == created["warnings"]


async def test_a_broadcast_counts_each_channel(api, clock):
    plain = await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201)
    assert plain["reach"] == {
        "recipients": 4,
        "customer_service": 1,
        "template": 0,
        "unreachable": 3,
    }
    assert "1 can be reached by customer-service message" in plain["warnings"][0]
    body = broadcast(clock, template_id="TPL")
    with_template = await call(api, "POST", "/api/campaigns/broadcasts", body, 201)
    assert with_template["reach"]["template"] == 3 and with_template["warnings"] == []


async def test_an_empty_audience_is_a_warning(api, clock):
    nobody = {"all": [{"field": "tier", "op": "eq", "value": "gold"},
                      {"field": "tier", "op": "eq", "value": "silver"}]}  # fmt: skip
    body = broadcast(clock, segment=nobody)
    created = await call(api, "POST", "/api/campaigns/broadcasts", body, 201)
    assert created["reach"]["recipients"] == 0
    assert created["warnings"] == ["no buyer can receive this campaign now (the audience is empty)"]


def test_the_cli_prints_the_reach_and_warnings(laoke, sqlite_url):  # noqa: F811
    async def seed() -> None:
        engine = create_engine(sqlite_url)
        now = Clock().now()
        async with sessionmaker(engine).begin() as session:
            for i, days in enumerate([0, 60]):
                session.add(
                    Buyer(
                        openid=f"oB{i}",
                        first_seen_at=now - timedelta(days=100),
                        last_interaction_at=now - timedelta(days=days),
                        tags=[],
                        channels=[],
                        interests=[],
                    )
                )
        await engine.dispose()

    asyncio.run(seed())
    send_at = (Clock().now() + timedelta(hours=1)).isoformat()
    spec = json.dumps({"kind": "broadcast", "name": "上新", "send_at": send_at, "text": "新品"})
    code, out = laoke("campaign", "create", spec)
    assert code == 0, out
    assert "reach now: 2 recipients — 1 by customer-service message" in out
    assert "warning: 1 of 2 recipients are outside WeChat's 48-hour window" in out
    code, out = laoke("campaign", "preview", "1")
    assert code == 0 and "warning: 1 of 2 recipients" in out
    code, out = laoke("campaign", "schedule", "1")
    assert code == 0 and "is now scheduled" in out and "warning: 1 of 2" in out
