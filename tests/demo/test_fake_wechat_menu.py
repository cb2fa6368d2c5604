"""The simulator's custom-menu endpoints answer as WeChat's do: menu/create with its
validation errcodes, menu/get and get_current_selfmenu_info, menu/delete; and the WeChat
client's menu calls work against it."""

from __future__ import annotations

import pytest

from bot.clock import Clock
from bot.database import create_engine, sessionmaker
from bot.wechat.client import WeChatAPI, WeChatAPIError
from tests.demo.test_fake_wechat import fetch_token, sim  # noqa: F401

GOOD = {"button": [
    {"name": "名片", "type": "click", "key": "CARD"},
    {"name": "更多", "sub_button": [
        {"name": "官网", "type": "view", "url": "https://example.com"},
        {"name": "联系客服", "type": "click", "key": "HANDOFF"},
    ]},
]}  # fmt: skip


@pytest.mark.parametrize(
    ("menu", "errcode"),
    [
        ({"button": []}, 40016),
        ({"button": [{"name": "x", "type": "click", "key": "K"}] * 4}, 40016),
        ({"button": [{"name": "交换名片交换名片", "type": "click", "key": "K"}]}, 40018),
        ({"button": [{"name": "a", "type": "nope"}]}, 40017),
        ({"button": [{"name": "a", "type": "click", "key": "k" * 129}]}, 40019),
        ({"button": [{"name": "a", "type": "view", "url": "ftp://x"}]}, 40055),
        ({"button": [{"name": "a", "sub_button": [{"name": "s", "type": "click", "key": "K"}] * 6}]}, 40023),
        ({"button": [{"name": "a", "sub_button": [{"name": "长" * 21, "type": "click", "key": "K"}]}]}, 40025),
    ],
)  # fmt: skip
async def test_menu_create_refuses_what_wechat_refuses(sim, menu, errcode):  # noqa: F811
    token = await fetch_token(sim)
    resp = await sim.post("/cgi-bin/menu/create", params={"access_token": token}, json=menu)
    assert (await resp.json())["errcode"] == errcode


async def test_menu_round_trip_and_delete(sim):  # noqa: F811
    token = await fetch_token(sim)
    q = {"access_token": token}
    assert (await (await sim.get("/cgi-bin/menu/get", params=q)).json())["errcode"] == 46003
    created = await sim.post("/cgi-bin/menu/create", params=q, json=GOOD)
    assert (await created.json())["errcode"] == 0
    got = await (await sim.get("/cgi-bin/menu/get", params=q)).json()
    assert got["menu"]["button"] == GOOD["button"]
    info = await (await sim.get("/cgi-bin/get_current_selfmenu_info", params=q)).json()
    assert info["selfmenu_info"]["button"][1]["sub_button"]["list"][1]["key"] == "HANDOFF"
    assert (await (await sim.get("/_sim/menu")).json())["button"] == GOOD["button"]
    await sim.get("/cgi-bin/menu/delete", params=q)
    assert (await (await sim.get("/_sim/menu")).json())["button"] == []
    no_token = await sim.post("/cgi-bin/menu/create", json=GOOD)
    assert (await no_token.json())["errcode"] == 41001


async def test_client_menu_calls(fake_wechat, make_config, http, sqlite_url):
    config = make_config(wechat=fake_wechat.wechat_config())
    engine = create_engine(sqlite_url)
    api = WeChatAPI(config.wechat, sessionmaker(engine), Clock(), http)
    try:
        await api.create_menu(GOOD)
        assert (await api.get_menu())["selfmenu_info"]["button"][0]["name"] == "名片"
        with pytest.raises(WeChatAPIError) as refused:
            await api.create_menu({"button": []})
        assert refused.value.errcode == 40016
        await api.delete_menu()
        assert fake_wechat.state.menu is None
    finally:
        await engine.dispose()
