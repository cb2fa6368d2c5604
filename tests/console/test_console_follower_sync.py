"""设置 → 公众号连接 → 粉丝同步: an admin starts the follower sync, watches it, and sees how it
ended — in Chinese, with the counts, audited."""

from __future__ import annotations

import pytest
from conftest import ConsoleClient
from sqlalchemy import select

from console.models import AuditEntry
from demo.simulator.fake_followers import Follower
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app

PATH = "/admin/settings/wechat"


@pytest.fixture
async def console(aiohttp_client, make_config, clock, fake_wechat) -> ConsoleClient:
    wechat = fake_wechat.wechat_config() | {"busy_backoff_s": 0.0}
    app = create_app(make_config(wechat=wechat), clock=clock)
    return ConsoleClient(await aiohttp_client(app), app, clock)


def add_followers(fake_wechat, clock, count: int) -> None:
    since = int(clock.now().timestamp()) - 86_400 * 30
    fake_wechat.state.followers.add([Follower(f"oFan{n:04d}", since + n) for n in range(count)])


async def test_an_admin_syncs_the_followers_and_sees_the_counts(console, fake_wechat, clock):
    add_followers(fake_wechat, clock, 230)
    admin = await console.login_as("admin")
    page = await (await console.client.get(PATH, headers=admin)).text()
    assert "尚未同步过粉丝" in page and "同步粉丝</button>" in page
    assert "每天 03:30（北京时间）自动同步一次" in page

    fake_wechat.inject(latency_ms=40)
    resp = await console.client.post(PATH + "/followers/sync", headers=admin, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == PATH + "#follower-sync"
    # While it runs: a progress bar, polled by htmx, the button disabled; a second start is
    # refused with a word, not run twice.
    box = await (
        await console.client.get(PATH + "/followers", headers=admin | {"HX-Request": "true"})
    ).text()
    assert 'hx-trigger="every 2s"' in box and "<progress" in box and "同步中" in box
    assert "disabled" in box
    again = await console.client.post(
        PATH + "/followers/sync", headers=admin, allow_redirects=False
    )
    assert again.headers["Location"] == PATH + "?sync=running#follower-sync"
    page = await (await console.client.get(PATH + "?sync=running", headers=admin)).text()
    assert "已有一次同步正在进行，无需重复开始" in page
    fake_wechat.inject(latency_ms=0)
    await console.app[FOLLOWER_SYNCS].wait()

    box = await (
        await console.client.get(PATH + "/followers", headers=admin | {"HX-Request": "true"})
    ).text()
    assert "hx-trigger" not in box  # finished: no more polling
    assert "公众号共 230 位粉丝，新增买家 230 位，更新 0 位，0 位已取消关注" in box
    async with console.sessionmaker() as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "followers.sync"))
        )
    assert len(entries) == 1 and entries[0].after["操作"] == "同步粉丝"
    assert entries[0].actor_name == "admin-user"


async def test_a_stopped_sync_says_why_and_offers_to_go_on(console, fake_wechat, clock):
    add_followers(fake_wechat, clock, 20)
    fake_wechat.inject(48001, 1, on="followers")
    admin = await console.login_as("admin")
    await console.client.post(PATH + "/followers/sync", headers=admin, allow_redirects=False)
    await console.app[FOLLOWER_SYNCS].wait()
    page = await (await console.client.get(PATH, headers=admin)).text()
    assert "公众号没有获取用户列表的接口权限" in page and "错误码 48001" in page
    assert "继续同步粉丝</button>" in page
    for english in ("listing", "failed", "48001)", "user/get"):
        assert f">{english}<" not in page
    await console.client.post(PATH + "/followers/sync", headers=admin, allow_redirects=False)
    await console.app[FOLLOWER_SYNCS].wait()
    page = await (await console.client.get(PATH, headers=admin)).text()
    assert "新增买家 20 位" in page


async def test_only_admins_start_a_sync_and_only_with_the_csrf_token(console):
    operator = await console.login_as("operator")
    resp = await console.client.post(PATH + "/followers/sync", headers=operator)
    assert resp.status == 403
    admin = await console.login_as("admin", name="boss")
    no_csrf = {"Cookie": admin["Cookie"]}
    resp = await console.client.post(PATH + "/followers/sync", headers=no_csrf)
    assert resp.status == 403 and "CSRF" in await resp.text()
    assert not console.app[FOLLOWER_SYNCS].tasks
    # The box without htmx is the whole page.
    resp = await console.client.get(PATH + "/followers", headers=admin, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == PATH
