"""A saved segment mirrored as a WeChat tag: created, filled, kept in step, and every limit of
the platform refused with a clear reason (through the API; the console and CLI share it)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.appkeys import SESSIONMAKER
from bot.models import Buyer
from demo.simulator.fake_followers import Follower
from followers.runner import FOLLOWER_SYNCS
from laoke.app import create_app
from scheduler.segment_tags import SegmentTag
from scheduler.segment_tags_api import TAG_MIRRORS

AUTH = {"Authorization": "Bearer op-token"}
EXPO = {"field": "qr_scene", "op": "eq", "value": "expo"}


@pytest.fixture
async def api(aiohttp_client, make_config, fake_wechat, clock, db_url):
    """The app on `db_url` with 60 expo followers and 20 others, imported by a follower sync,
    and the saved segment 展会粉丝 (followed through the expo QR code)."""
    config = make_config(
        database={"url": db_url},
        wechat=fake_wechat.wechat_config() | {"busy_backoff_s": 0.0},
        api={"token": "op-token"},
    )
    client = await aiohttp_client(create_app(config, clock=clock))
    since = int((clock.now() - timedelta(days=100)).timestamp())
    fake_wechat.state.followers.add(
        [Follower(f"oExpo{n:03d}", since + n, "ADD_SCENE_QR_CODE", 0, "expo") for n in range(60)]
        + [Follower(f"oOther{n:03d}", since + n) for n in range(20)]
    )
    assert (await client.post("/api/followers/sync", headers=AUTH)).status == 202
    await client.app[FOLLOWER_SYNCS].wait()
    resp = await client.post("/api/segments", json={"name": "展会粉丝", "spec": EXPO}, headers=AUTH)
    assert resp.status == 201
    return client


async def mirror(api, segment="展会粉丝", status=202, **body):
    resp = await api.post(f"/api/segments/{segment}/wechat-tag", json=body, headers=AUTH)
    data = await resp.json()
    assert resp.status == status, data
    if status == 202:
        while api.app[TAG_MIRRORS]:
            await asyncio.wait(list(api.app[TAG_MIRRORS]))
            await asyncio.sleep(0)  # a finished task leaves the set in its done callback
        resp = await api.get(f"/api/segments/{segment}/wechat-tag", headers=AUTH)
        data = await resp.json()
    return data


def tag_named(fake_wechat, name):
    fans = fake_wechat.state.followers
    return next(tag_id for tag_id, tag in fans.tags.items() if tag == name)


async def test_a_segment_becomes_a_tag_and_stays_in_step(api, fake_wechat, clock):
    done = await mirror(api)
    assert (done["status"], done["tag_name"], done["members"]) == ("done", "展会粉丝", 60)
    assert (done["added"], done["removed"], done["skipped"]) == (60, 0, 0)
    tag_id = done["tag_id"]
    assert tag_id == tag_named(fake_wechat, "展会粉丝")
    fans = fake_wechat.state.followers
    assert fans.members_of(tag_id) == {f"oExpo{n:03d}" for n in range(60)}
    # Buyers join and leave the segment; one unfollows; one sends 退订 (opted out).
    async with api.app[SESSIONMAKER].begin() as session:
        await session.execute(update(Buyer).where(Buyer.openid.in_(["oOther000", "oOther001"])).values(qr_scene="expo"))  # fmt: skip
        await session.execute(update(Buyer).where(Buyer.openid == "oExpo000").values(qr_scene="fair"))  # fmt: skip
        await session.execute(update(Buyer).where(Buyer.openid == "oExpo001").values(opted_out=True))  # fmt: skip
        await session.execute(update(Buyer).where(Buyer.openid == "oExpo002").values(subscribed=False))  # fmt: skip
    fans.unfollow("oExpo002")
    calls_before = fake_wechat.state.calls
    again = await mirror(api)
    assert (again["status"], again["tag_id"], again["members"]) == ("done", tag_id, 59)
    assert (again["added"], again["removed"], again["skipped"]) == (2, 3, 0)
    wanted = {f"oExpo{n:03d}" for n in range(3, 60)} | {"oOther000", "oOther001"}
    assert fans.members_of(tag_id) == wanted
    # tags/get, one untagging call for the two still following, one tagging call.
    assert fake_wechat.state.calls - calls_before == 3
    # Nothing changed: a third run calls only tags/get.
    calls_before = fake_wechat.state.calls
    third = await mirror(api)
    assert (third["added"], third["removed"], fake_wechat.state.calls - calls_before) == (0, 0, 1)


async def test_followers_with_twenty_tags_are_skipped_with_the_reason(api, fake_wechat):
    fans = fake_wechat.state.followers
    full_ids = [fans.create_tag(f"旧标签{n}") for n in range(20)]
    # One full follower the last sync already knew about, one it did not (45059 from WeChat).
    fans.known["oExpo010"].tags = list(full_ids)
    fans.known["oExpo020"].tags = list(full_ids)
    async with api.app[SESSIONMAKER].begin() as session:
        await session.execute(update(Buyer).where(Buyer.openid == "oExpo010").values(wechat_tag_ids=full_ids))  # fmt: skip
    done = await mirror(api)
    assert (done["status"], done["members"], done["added"], done["skipped"]) == ("done", 58, 58, 2)
    skipped = {s["openid"]: s for s in done["skipped_sample"]}
    assert skipped.keys() == {"oExpo010", "oExpo020"}
    assert skipped["oExpo020"]["reason"] == "tags_full"
    assert skipped["oExpo020"]["reason_text"] == "该粉丝已有 20 个标签（公众号上限）"
    assert "oExpo020" not in fans.members_of(done["tag_id"])


async def test_a_tag_name_over_thirty_characters_is_refused_before_any_call(api, fake_wechat):
    calls = fake_wechat.state.calls
    refused = await mirror(api, status=400, tag_name="广东" * 16)
    assert (refused["reason"], refused["field"]) == ("name_too_long", "tag_name")
    assert refused["staff_message"].startswith("公众号标签名最多 30 个字")
    assert fake_wechat.state.calls == calls
    done = await mirror(api, tag_name="广东展会")
    assert done["tag_name"] == "广东展会"
    # The name is the tag's once it exists.
    renamed = await mirror(api, status=409, tag_name="别的名字")
    assert renamed["reason"] == "renamed" and "广东展会" in renamed["staff_message"]


async def test_the_hundred_and_first_tag_is_refused(api, fake_wechat):
    fans = fake_wechat.state.followers
    for n in range(100):
        fans.create_tag(f"后台标签{n}")
    refused = await mirror(api, status=409)
    assert refused["reason"] == "too_many_tags"
    assert (
        refused["staff_message"]
        == "公众号的标签已达 100 个上限，请先在公众号后台删除不再使用的标签"
    )
    state = await (await api.get("/api/segments/展会粉丝/wechat-tag", headers=AUTH)).json()
    assert (state["status"], state["error"]) == ("failed", refused["staff_message"])


async def test_a_name_another_tag_has_is_refused_unless_laoke_made_it(api, fake_wechat):
    fans = fake_wechat.state.followers
    theirs = fans.create_tag("展会粉丝")  # made in the MP backend by someone
    refused = await mirror(api, status=409)
    assert refused["reason"] == "name_taken" and "不是老客创建的" in refused["staff_message"]
    # Another segment's tag: named.
    resp = await api.post("/api/segments", json={"name": "其他", "spec": EXPO}, headers=AUTH)
    assert resp.status == 201
    ours = await mirror(api, segment="其他", tag_name="老客标签")
    taken = await mirror(api, status=409, tag_name="老客标签")
    assert "已被分群「其他」使用" in taken["staff_message"]
    # A tag Laoke created before being cut off (its id never stored) is reused.
    async with api.app[SESSIONMAKER].begin() as session:
        await session.execute(update(SegmentTag).values(creating=False))
    fans.tags.pop(theirs)
    lost = fans.create_tag("展会粉丝")
    async with api.app[SESSIONMAKER].begin() as session:
        row = (await session.execute(
            SegmentTag.__table__.select().where(SegmentTag.tag_id.is_(None))
        )).one()  # fmt: skip
        await session.execute(
            update(SegmentTag).where(SegmentTag.id == row.id)
            .values(tag_name="展会粉丝", creating=True)
        )  # fmt: skip
    reused = await mirror(api)
    assert (reused["status"], reused["tag_id"], reused["members"]) == ("done", lost, 60)
    assert ours["tag_id"] != lost


async def test_a_tag_deleted_in_the_mp_backend_is_created_again(api, fake_wechat):
    first = await mirror(api)
    fans = fake_wechat.state.followers
    fans.tags.pop(first["tag_id"])
    for openid in fans.members_of(first["tag_id"]):
        fans.known[openid].tags.remove(first["tag_id"])
    again = await mirror(api)
    assert again["tag_id"] != first["tag_id"] and again["members"] == 60
    assert fans.members_of(again["tag_id"]) == {f"oExpo{n:03d}" for n in range(60)}


async def test_unknown_segments_and_a_running_mirror(api, fake_wechat):
    assert (await mirror(api, segment="没有", status=404))["error"]
    resp = await api.get("/api/segments/没有/wechat-tag", headers=AUTH)
    assert resp.status == 404
    never = await (await api.get("/api/segments/展会粉丝/wechat-tag", headers=AUTH)).json()
    assert never["status"] == "never"
    fake_wechat.inject(latency_ms=30)
    resp = await api.post("/api/segments/展会粉丝/wechat-tag", json={}, headers=AUTH)
    assert resp.status == 202
    busy = await mirror(api, status=409)
    assert busy["reason"] == "running"
    fake_wechat.inject(latency_ms=0)
    while api.app[TAG_MIRRORS]:
        await asyncio.wait(list(api.app[TAG_MIRRORS]))
        await asyncio.sleep(0)  # a finished task leaves the set in its done callback
