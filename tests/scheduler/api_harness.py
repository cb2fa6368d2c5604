"""The operator API under test: create_app with a token, a few buyers, and a request helper."""

from __future__ import annotations

from datetime import timedelta

from tiers_fixture import GOLD as GOLD_TIER
from tiers_fixture import SILVER

from bot.appkeys import SESSIONMAKER
from bot.models import Buyer
from laoke.app import create_app

AUTH = {"Authorization": "Bearer op-token"}
GOLD = {"field": "tier", "op": "eq", "value": "gold"}


async def start_api(aiohttp_client, make_config, clock):
    """The app (no scheduler or senders) with buyers oBuyer0-3: gold, gold, silver, no tier."""
    config = make_config(
        api={"token": "op-token"},
        server={"run_senders": False, "run_scheduler": False},
        tiers={"levels": [SILVER, GOLD_TIER]},
    )
    client = await aiohttp_client(create_app(config, clock=clock))
    now = clock.now()
    async with client.app[SESSIONMAKER].begin() as session:
        for i, tier in enumerate(["gold", "gold", "silver", None]):
            session.add(
                Buyer(
                    openid=f"oBuyer{i}",
                    tier_key=tier,
                    first_seen_at=now,
                    subscribed_at=now,
                    last_interaction_at=now - timedelta(days=40 * i),
                    display_name=f"买家{i}",
                    tags=[],
                    channels=[],
                    interests=["女装"],
                )
            )
    return client


async def call(api, method, path, body=None, status=200):
    """Make an authorised request, check its status, return its JSON."""
    resp = await api.request(method, path, json=body, headers=AUTH)
    data = await resp.json()
    assert resp.status == status, data
    return data
