"""The simulator's mass send refuses what WeChat refuses and reports what WeChat reports."""

from __future__ import annotations

from collections import Counter

import pytest

from demo.simulator.fake_wechat import FAKE, create_fake_wechat

APPID, SECRET = "wx_sim", "sim_secret"


@pytest.fixture
def make_sim(aiohttp_client, clock):
    async def build(account_type="service"):
        app = create_fake_wechat(clock=clock, appid=APPID, secret=SECRET,
                                 account_type=account_type)  # fmt: skip
        client = await aiohttp_client(app)
        await new_token(client)
        return client

    return build


async def new_token(sim) -> None:
    """A fresh access_token (the clock moves by days in these tests)."""
    resp = await sim.get(
        "/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    )
    sim.token = (await resp.json())["access_token"]


async def mass(sim, openids, content="上新了", clientmsgid=None) -> dict:
    body = {"touser": openids, "msgtype": "text", "text": {"content": content}}
    if clientmsgid:
        body["clientmsgid"] = clientmsgid
    resp = await sim.post("/cgi-bin/message/mass/send", params={"access_token": sim.token},
                          json=body)  # fmt: skip
    return await resp.json()


async def test_lists_of_fewer_than_two_and_texts_over_300_characters_are_refused(make_sim):
    sim = await make_sim()
    assert (await mass(sim, ["o1"]))["errcode"] == 40130
    assert (await mass(sim, [f"o{i}" for i in range(10_001)]))["errcode"] == 40130
    assert (await mass(sim, ["o1", "o2"], "字" * 301))["errcode"] == 45002
    assert (await mass(sim, ["o1", "o2"], "字" * 300))["errcode"] == 0


async def test_a_reused_clientmsgid_is_answered_as_already_sent_and_delivers_nothing(
    make_sim, clock
):
    sim = await make_sim()
    first = await mass(sim, ["o1", "o2"], clientmsgid="c1-s1-b1")
    assert first["errcode"] == 0 and first["msg_id"]
    assert (await mass(sim, ["o1", "o2"], clientmsgid="c1-s1-b1"))["errcode"] == 45066
    clock.advance(minutes=2)
    assert (await mass(sim, ["o1", "o2"], clientmsgid="c1-s1-b1"))["errcode"] == 45065
    clock.advance(hours=24)
    await new_token(sim)
    assert (await mass(sim, ["o1", "o2"], clientmsgid="c1-s1-b1"))["errcode"] == 0
    assert Counter(m["openid"] for m in sim.server.app[FAKE].messages) == {"o1": 2, "o2": 2}


async def test_a_follower_gets_four_mass_messages_a_month_the_fifth_is_filtered(make_sim, clock):
    sim = await make_sim()
    clock.set(clock.now().replace(day=3))
    for n in range(5):
        assert (await mass(sim, ["o1", "o2"], f"第{n}条"))["errcode"] == 0
    jobs = (await (await sim.get("/_sim/mass/jobs")).json())["jobs"]
    assert [(j["total"], j["filtered"], j["sent"]) for j in jobs][-1] == (2, 2, 0)
    assert len(sim.server.app[FAKE].messages_for("o1")) == 4
    clock.advance(days=31)
    await new_token(sim)
    assert (await mass(sim, ["o1", "o2"], "下个月"))["errcode"] == 0
    assert len(sim.server.app[FAKE].messages_for("o1")) == 5


async def test_a_subscription_account_mass_sends_once_a_day(make_sim, clock):
    sim = await make_sim("subscription")
    assert (await mass(sim, ["o1", "o2"]))["errcode"] == 0
    assert (await mass(sim, ["o3", "o4"]))["errcode"] == 45028
    clock.advance(days=1)
    await new_token(sim)
    assert (await mass(sim, ["o3", "o4"]))["errcode"] == 0


async def test_preview_reaches_one_user_and_refuses_long_texts(make_sim):
    sim = await make_sim()
    url = "/cgi-bin/message/mass/preview"
    body = {"touser": "oStaff", "msgtype": "text", "text": {"content": "预览"}}
    resp = await sim.post(url, params={"access_token": sim.token}, json=body)
    assert (await resp.json())["errcode"] == 0
    body["text"]["content"] = "字" * 301
    resp = await sim.post(url, params={"access_token": sim.token}, json=body)
    assert (await resp.json())["errcode"] == 45002
    assert [m["kind"] for m in sim.server.app[FAKE].messages_for("oStaff")] == ["mass_preview"]


async def test_template_messages_are_shown_as_wechat_shows_them_since_2023(make_sim):
    sim = await make_sim()
    data = {"first": {"value": "您好"}, "thing1": {"value": "金卡会员\n专属客服、优先发货全部开通啦，欢迎选购"},
            "phrase2": {"value": "已经升级了"}, "remark": {"value": "感谢支持"}}  # fmt: skip
    resp = await sim.post("/cgi-bin/message/template/send", params={"access_token": sim.token},
                          json={"touser": "o1", "template_id": "T", "data": data})  # fmt: skip
    assert (await resp.json())["errcode"] == 0
    [shown] = sim.server.app[FAKE].messages_for("o1")
    assert shown["data"] == {"thing1": {"value": "金卡会员 专属客服、优先发货全部开通啦，"},
                             "phrase2": {"value": "已经升级了"}}  # fmt: skip
    assert shown["dropped"] == ["first", "remark"]
