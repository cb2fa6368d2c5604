"""Followers imported by the follower sync on the dashboard: their follows dated at WeChat's
subscribe time (粉丝增长 and the follower total of past months), not in the card funnel (the
bot never invited them), and counts cached before the import retaken after it."""

from __future__ import annotations

from dashboard_world import local

from bot.clock import FakeClock
from demo.simulator.fake_followers import Follower
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app

AUTH = {"Authorization": "Bearer op-token"}
RANGE = "/api/dashboard?from=2026-03-01&to=2026-05-31&granularity=month"


async def test_imported_follows_count_in_follower_growth_at_their_subscribe_time(
    aiohttp_client, make_config, fake_wechat
):
    clock = FakeClock(local(2026, 6, 10))
    fake_wechat.state.clock = fake_wechat.state.followers.clock = clock
    config = make_config(
        api={"token": "op-token"}, wechat=fake_wechat.wechat_config() | {"busy_backoff_s": 0.0}
    )
    api = await aiohttp_client(create_app(config, clock=clock))
    before = await (await api.get(RANGE, headers=AUTH)).json()
    assert before["followers"]["series"]["follows"] == [0, 0, 0]  # cached as final
    fake_wechat.state.followers.add(
        [Follower(f"oMar{n}", int(local(2026, 3, 5 + n).timestamp())) for n in range(3)]
        + [Follower(f"oMay{n}", int(local(2026, 5, 2 + n).timestamp())) for n in range(2)]
    )
    assert (await api.post("/api/followers/sync", headers=AUTH)).status == 202
    await api.app[FOLLOWER_SYNCS].wait()
    after = await (await api.get(RANGE, headers=AUTH)).json()
    growth = after["followers"]["series"]
    assert growth["follows"] == [3, 0, 2]
    assert growth["followers"] == [3, 3, 5]  # following at each month's end
    assert after["kpis"]["followers"]["value"] == 5
    # The card funnel is the bot's: followers from before Laoke were never invited.
    assert after["funnel"]["stages"][0]["buyers"] == 0
