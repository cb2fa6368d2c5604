"""分群 → 同步为公众号标签: an operator mirrors a saved segment as a WeChat tag from its page,
sees who carries it and who was skipped and why, and refusals in Chinese."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from conftest import ConsoleClient
from sqlalchemy import select

from console.models import AuditEntry
from demo.simulator.fake_followers import Follower
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app
from scheduler.segment_tags_api import TAG_MIRRORS

SEGMENTS = "/admin/segments"


@pytest.fixture
async def console(aiohttp_client, make_config, clock, fake_wechat) -> ConsoleClient:
    wechat = fake_wechat.wechat_config() | {"busy_backoff_s": 0.0}
    app = create_app(make_config(wechat=wechat, api={"token": "op-token"}), clock=clock)
    client = ConsoleClient(await aiohttp_client(app), app, clock)
    since = int((clock.now() - timedelta(days=10)).timestamp())
    fake_wechat.state.followers.add([Follower(f"oFan{n:03d}", since + n) for n in range(30)])
    auth = {"Authorization": "Bearer op-token"}
    await client.client.post("/api/followers/sync", headers=auth)
    await app[FOLLOWER_SYNCS].wait()
    resp = await client.client.post(
        "/api/segments", json={"name": "全部粉丝", "spec": {"field": "subscribed", "op": "eq",
                                                          "value": True}}, headers=auth,
    )  # fmt: skip
    assert resp.status == 201
    return client


async def settle(console) -> None:
    while console.app[TAG_MIRRORS]:
        await asyncio.wait(list(console.app[TAG_MIRRORS]))
        await asyncio.sleep(0)  # a finished task leaves the set in its done callback


async def test_an_operator_mirrors_a_segment_and_sees_who_was_skipped(console, fake_wechat):
    fans = fake_wechat.state.followers
    full = [fans.create_tag(f"旧{n}") for n in range(20)]
    fans.known["oFan007"].tags = list(full)
    operator = await console.login_as("operator")
    page = await (await console.client.get(f"{SEGMENTS}?name=全部粉丝", headers=operator)).text()
    assert "尚未同步为公众号标签" in page and "同步为公众号标签</button>" in page
    resp = await console.client.post(
        SEGMENTS + "/wechat-tag", data={"name": "全部粉丝", "tag_name": "全部粉丝"},
        headers=operator, allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    assert resp.headers["Location"].endswith("#wechat-tag")
    await settle(console)
    page = await (await console.client.get(f"{SEGMENTS}?name=全部粉丝", headers=operator)).text()
    assert "公众号标签「全部粉丝」：29 位粉丝" in page
    assert "添加 29 位，移除 0 位，跳过 1 位" in page
    assert "未留名片的粉丝</a>：该粉丝已有 20 个标签（公众号上限）" in page
    assert 'id="tag-name"' not in page  # the tag exists: its name is fixed
    async with console.sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "segment.wechat_tag")
        )
    assert entry.after == {"操作": "同步为公众号标签", "分群": "全部粉丝", "标签": "全部粉丝"}


async def test_refusals_are_said_on_the_page(console, fake_wechat):
    operator = await console.login_as("operator")
    resp = await console.client.post(
        SEGMENTS + "/wechat-tag", data={"name": "全部粉丝", "tag_name": "长" * 31},
        headers=operator,
    )  # fmt: skip
    assert resp.status == 409
    page = await resp.text()
    assert "公众号标签名最多 30 个字，「" in page and "有 31 个字" in page
    fake_wechat.state.followers.create_tag("全部粉丝")
    resp = await console.client.post(
        SEGMENTS + "/wechat-tag", data={"name": "全部粉丝"}, headers=operator
    )
    page = await resp.text()
    assert resp.status == 409
    assert "公众号里已有名为「全部粉丝」的标签（不是老客创建的），请换一个标签名" in page
    # Viewers do not get the button (the segment builder is for operators).
    viewer = await console.login_as("viewer")
    resp = await console.client.post(
        SEGMENTS + "/wechat-tag", data={"name": "全部粉丝"}, headers=viewer
    )
    assert resp.status == 403


async def test_the_box_polls_while_a_sync_runs(console, fake_wechat):
    operator = await console.login_as("operator")
    fake_wechat.inject(latency_ms=40)
    await console.client.post(
        SEGMENTS + "/wechat-tag", data={"name": "全部粉丝"}, headers=operator,
        allow_redirects=False,
    )  # fmt: skip
    box = await (
        await console.client.get(
            SEGMENTS + "/wechat-tag?name=全部粉丝", headers=operator | {"HX-Request": "true"}
        )
    ).text()
    assert 'hx-trigger="every 2s"' in box and "同步中" in box and "disabled" in box
    fake_wechat.inject(latency_ms=0)
    await settle(console)
    box = await (
        await console.client.get(
            SEGMENTS + "/wechat-tag?name=全部粉丝", headers=operator | {"HX-Request": "true"}
        )
    ).text()
    assert "hx-trigger" not in box and "30 位粉丝" in box
