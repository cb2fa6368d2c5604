"""设置 → 公众号连接 tells an admin where to point WeChat and whether callbacks and the
access_token are alive, without showing the secrets."""

from __future__ import annotations

from datetime import timedelta

from bot.appkeys import CONFIG
from bot.models import AccessToken, InboundMessage

PATH = "/admin/settings/wechat"


async def test_the_page_gives_the_callback_url_and_hides_the_token(console):
    admin = await console.login_as("admin")
    resp = await console.client.get(PATH, headers=admin)
    page = await resp.text()
    config = console.app[CONFIG]
    assert resp.status == 200
    assert config.server.webhook_path in page
    assert config.wechat.token not in page  # masked
    assert config.wechat.appid in page
    assert "尚未获取" in page  # no access_token fetched yet
    assert "小时内未收到回调" in page  # no callback ever


async def test_a_recent_callback_and_a_fresh_token_show_as_healthy(console):
    now = console.clock.now()
    config = console.app[CONFIG]
    async with console.sessionmaker() as session, session.begin():
        session.add(
            InboundMessage(openid="oBuyer", dedup_key="oBuyer:1", msg_type="text", received_at=now)
        )
        session.add(
            AccessToken(
                appid=config.wechat.appid,
                token="t" * 40,
                expires_at=now + timedelta(hours=1),
                fetched_at=now,
            )
        )
    admin = await console.login_as("admin")
    page = await (await console.client.get(PATH, headers=admin)).text()
    assert "正常" in page and "有效" in page
    assert "t" * 40 not in page


async def test_operators_cannot_open_it(console):
    operator = await console.login_as("operator")
    resp = await console.client.get(PATH, headers=operator)
    assert resp.status == 403
