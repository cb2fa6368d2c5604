"""Creation, preview and scheduling say how many recipients can be reached, and how."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from api_harness import call, start_api
from sqlalchemy import select
from test_operator_cli import laoke  # noqa: F401  (the CLI fixture)

from bot.appkeys import SESSIONMAKER
from bot.clock import Clock
from bot.database import create_engine, sessionmaker
from bot.models import Buyer
from scheduler.mass_sends import month_of
from scheduler.models import MassAllowance


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


async def use_up_mass_allowance(api, clock, openids) -> None:
    """These buyers already got this month's 4 mass messages."""
    async with api.app[SESSIONMAKER].begin() as session:
        for openid in openids:
            buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
            session.add(MassAllowance(buyer_id=buyer_id, month=month_of(clock.now()), used=4))


async def test_a_recall_reaches_dormant_buyers_by_mass_send_never_by_template(api, clock):
    created = await call(api, "POST", "/api/campaigns/recalls",
                         recall(clock, template_id="TPL"), 201)  # fmt: skip
    assert created["reach"] == {
        "recipients": 3,
        "customer_service": 0,
        "mass": 3,
        "unreachable": 0,
        "unreachable_by_reason": {},
    }
    assert created["warnings"] == []


async def test_buyers_whose_monthly_mass_sends_are_used_up_are_counted_unreachable(api, clock):
    await use_up_mass_allowance(api, clock, ["oBuyer1", "oBuyer2"])
    created = await call(api, "POST", "/api/campaigns/recalls", recall(clock), 201)
    assert created["reach"] == {
        "recipients": 3,
        "customer_service": 0,
        "mass": 1,
        "unreachable": 2,
        "unreachable_by_reason": {"mass_quota": 2},
    }
    [warning] = created["warnings"]
    assert "3 位买家中有 2 位收不到" in warning and "每月最多收到 4 次群发" in warning
    preview = await call(api, "GET", f"/api/campaigns/{created['id']}/preview")
    assert preview["reach"] == created["reach"] and preview["warnings"] == created["warnings"]
    scheduled = await call(api, "POST", f"/api/campaigns/{created['id']}/schedule")
    assert scheduled["status"] == "scheduled" and scheduled["warnings"] == created["warnings"]


async def test_a_broadcast_counts_each_channel(api, clock):
    await use_up_mass_allowance(api, clock, ["oBuyer3"])
    plain = await call(api, "POST", "/api/campaigns/broadcasts", broadcast(clock), 201)
    assert plain["reach"] == {
        "recipients": 4,
        "customer_service": 1,
        "mass": 2,
        "unreachable": 1,
        "unreachable_by_reason": {"mass_quota": 1},
    }
    assert "客服消息 1 位，群发 2 位" in plain["warnings"][0]


async def test_an_empty_audience_is_a_warning(api, clock):
    nobody = {"all": [{"field": "tier", "op": "eq", "value": "gold"},
                      {"field": "tier", "op": "eq", "value": "silver"}]}  # fmt: skip
    body = broadcast(clock, segment=nobody)
    created = await call(api, "POST", "/api/campaigns/broadcasts", body, 201)
    assert created["reach"]["recipients"] == 0
    assert created["warnings"] == ["现在没有买家能收到这个活动（目标人群为空）"]


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
    assert "reach now: 2 recipients — 1 by customer-service message, 1 by mass send" in out
    code, out = laoke("campaign", "preview", "1")
    assert code == 0 and "1 by mass send" in out
    code, out = laoke("campaign", "schedule", "1")
    assert code == 0 and "is now scheduled" in out and "1 by mass send" in out


async def test_a_campaign_whose_mass_text_is_over_300_characters_is_not_scheduled(api, clock):
    long = await call(api, "POST", "/api/campaigns/broadcasts",
                      broadcast(clock, text="新" * 301), 201)  # fmt: skip
    refused = await call(api, "POST", f"/api/campaigns/{long['id']}/schedule", status=400)
    assert "无法排期：群发消息最多 300 字" in refused["error"]
    # Only buyers inside the window: no mass send, the long text is fine.
    recent = {"all": [{"field": "days_since_interaction", "op": "lt", "value": 1}]}
    near = await call(api, "POST", "/api/campaigns/broadcasts",
                      broadcast(clock, text="新" * 301, segment=recent), 201)  # fmt: skip
    assert near["reach"]["mass"] == 0
    await call(api, "POST", f"/api/campaigns/{near['id']}/schedule")
