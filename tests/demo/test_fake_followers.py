"""The simulator's followers and tags behave like the platform's: paging, batchget, tag limits."""

from __future__ import annotations

import pytest

from demo.simulator.fake_wechat import FAKE, create_fake_wechat

APPID, SECRET = "wx_sim", "sim_secret"


@pytest.fixture
async def sim(aiohttp_client, clock):
    return await aiohttp_client(create_fake_wechat(clock=clock, appid=APPID, secret=SECRET))


async def new_token(sim) -> str:
    resp = await sim.get(
        "/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    )
    return (await resp.json())["access_token"]


@pytest.fixture
async def token(sim) -> str:
    return await new_token(sim)


async def get(sim, token, path, **params):
    resp = await sim.get("/cgi-bin/" + path, params={"access_token": token, **params})
    return await resp.json()


async def post(sim, token, path, body):
    resp = await sim.post("/cgi-bin/" + path, params={"access_token": token}, json=body)
    return await resp.json()


async def test_seeding_100000_followers_and_paging_them_as_wechat_does(sim, token):
    resp = await sim.post("/_sim/followers", json={"count": 100_000, "tags": ["老客户", "直播"]})
    assert (await resp.json()) == {"added": 100_000, "total": 100_000}
    seen, cursor, pages = [], "", 0
    while True:
        page = await get(sim, token, "user/get", next_openid=cursor)
        assert page["total"] == 100_000
        if page["count"] == 0:  # the page after the last is empty, with no cursor
            assert "data" not in page and page["next_openid"] == ""
            break
        assert page["count"] == len(page["data"]["openid"]) <= 10_000
        assert page["next_openid"] == page["data"]["openid"][-1]
        seen += page["data"]["openid"]
        cursor, pages = page["next_openid"], pages + 1
    assert pages == 10 and len(set(seen)) == 100_000
    info = await post(sim, token, "user/info/batchget",
                      {"user_list": [{"openid": o} for o in seen[:100]]})  # fmt: skip
    users = info["user_info_list"]
    assert len(users) == 100 and all(u["subscribe"] == 1 for u in users)
    assert {"subscribe_time", "unionid", "remark", "tagid_list", "subscribe_scene", "qr_scene",
            "qr_scene_str"} <= users[0].keys()  # fmt: skip
    scenes = {u["subscribe_scene"] for u in users}
    assert "ADD_SCENE_QR_CODE" in scenes and "ADD_SCENE_SEARCH" in scenes
    assert any(u["qr_scene_str"] for u in users) and any(u["tagid_list"] for u in users)


async def test_batchget_limits_and_followers_who_left(sim, token, clock):
    await sim.post("/_sim/followers", json={"followers": [
        {"openid": "oA", "subscribe_time": 1_700_000_000, "qr_scene_str": "expo", "tags": ["VIP"]},
        {"openid": "oB"},
    ]})  # fmt: skip
    many = {"user_list": [{"openid": "oA"}] * 101}
    assert (await post(sim, token, "user/info/batchget", many))["errcode"] == 40032
    unknown = {"user_list": [{"openid": "oA"}, {"openid": "oNever"}]}
    assert (await post(sim, token, "user/info/batchget", unknown))["errcode"] == 40003
    await sim.post("/_sim/followers/unfollow", json={"openids": ["oA"]})
    page = await get(sim, token, "user/get")
    assert page["data"]["openid"] == ["oB"] and page["total"] == 1
    both = {"user_list": [{"openid": "oA"}, {"openid": "oB"}]}
    users = (await post(sim, token, "user/info/batchget", both))["user_info_list"]
    assert users[0] == {"subscribe": 0, "openid": "oA"}
    assert users[1]["subscribe_scene"] == "ADD_SCENE_SEARCH"


async def test_follows_and_unfollows_of_the_chat_simulator_change_the_list(sim, token, clock):
    await sim.post("/_sim/interaction", json={"openid": "oChat", "kind": "follow",
                                              "scene": "expo_2026"})  # fmt: skip
    page = await get(sim, token, "user/get")
    assert page["data"]["openid"] == ["oChat"]
    info = await post(sim, token, "user/info/batchget", {"user_list": [{"openid": "oChat"}]})
    user = info["user_info_list"][0]
    assert (user["subscribe_scene"], user["qr_scene_str"]) == ("ADD_SCENE_QR_CODE", "expo_2026")
    assert user["subscribe_time"] == int(clock.now().timestamp())
    await sim.post("/_sim/interaction", json={"openid": "oChat", "kind": "unfollow"})
    assert (await get(sim, token, "user/get"))["total"] == 0
    # An unfollow opens no customer-service window.
    assert "oChat" in sim.app[FAKE].windows  # from the follow …
    clock.advance(minutes=2)
    sent = await post(sim, token, "message/custom/send",
                      {"touser": "oChat", "msgtype": "text", "text": {"content": "hi"}})  # fmt: skip
    assert sent["errcode"] == 45015


async def test_tags_follow_the_platform_limits(sim, token):
    fans = sim.app[FAKE].followers
    await sim.post("/_sim/followers", json={"count": 60})
    openids = [o for o in fans.order if o]
    assert (await post(sim, token, "tags/create", {"tag": {"name": "x" * 31}}))["errcode"] == 45158
    created = await post(sim, token, "tags/create", {"tag": {"name": "广东老客"}})
    tag_id = created["tag"]["id"]
    again = await post(sim, token, "tags/create", {"tag": {"name": "广东老客"}})
    assert again["errcode"] == 45157
    tags = (await get(sim, token, "tags/get"))["tags"]
    assert {"id": tag_id, "name": "广东老客", "count": 0} in tags
    over = {"tagid": tag_id, "openid_list": openids[:51]}
    assert (await post(sim, token, "tags/members/batchtagging", over))["errcode"] == 40032
    unknown = {"tagid": 99999, "openid_list": openids[:2]}
    assert (await post(sim, token, "tags/members/batchtagging", unknown))["errcode"] == 45159
    # A follower with 20 tags: the whole call is refused, nobody is tagged.
    full = openids[0]
    for n in range(20):
        fans.known[full].tags.append(fans.create_tag(f"满{n}"))
    batch = {"tagid": tag_id, "openid_list": openids[:10]}
    assert (await post(sim, token, "tags/members/batchtagging", batch))["errcode"] == 45059
    assert fans.members_of(tag_id) == set()
    batch = {"tagid": tag_id, "openid_list": openids[1:11]}
    assert (await post(sim, token, "tags/members/batchtagging", batch))["errcode"] == 0
    assert fans.members_of(tag_id) == set(openids[1:11])
    untag = {"tagid": tag_id, "openid_list": openids[1:3]}
    assert (await post(sim, token, "tags/members/batchuntagging", untag))["errcode"] == 0
    assert fans.members_of(tag_id) == set(openids[3:11])
    # 100 tags of the account's own at most.
    while sum(1 for t in fans.tags if t >= 100) < 100:
        fans.create_tag(f"标签{len(fans.tags)}")
    assert (await post(sim, token, "tags/create", {"tag": {"name": "再来一个"}}))[
        "errcode"
    ] == 45056


async def test_user_get_answers_45009_past_its_daily_quota(sim, token, clock):
    sim.app[FAKE].followers.quota["user/get"] = 2
    assert "total" in await get(sim, token, "user/get")
    assert "total" in await get(sim, token, "user/get")
    assert (await get(sim, token, "user/get"))["errcode"] == 45009
    clock.advance(hours=15)  # 01:00 the next day in Beijing: a new quota (and a new token)
    fresh = await new_token(sim)
    assert "total" in await get(sim, fresh, "user/get")


async def test_seed_requests_are_checked(sim):
    for body in ({"count": -1}, {"count": "many"}, {"count": 5, "tags": "老客"},
                 {"count": 5, "start": "2026-01-01"}, {"followers": [{"no": "openid"}]}):  # fmt: skip
        resp = await sim.post("/_sim/followers", json=body)
        assert resp.status == 400, body
    assert (await sim.post("/_sim/followers/unfollow", json={"openids": "oA"})).status == 400
