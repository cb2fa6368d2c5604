"""The WeChat API simulator behaves like WeChat where Laoke depends on it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from demo.simulator.fake_wechat import FAKE, create_fake_wechat
from laoke.cli import main

APPID, SECRET = "wx_sim", "sim_secret"


@pytest.fixture
async def sim(aiohttp_client, clock):
    return await aiohttp_client(create_fake_wechat(clock=clock, appid=APPID, secret=SECRET))


async def fetch_token(sim) -> str:
    resp = await sim.get(
        "/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    )
    body = await resp.json()
    assert body["expires_in"] == 7200
    return body["access_token"]


async def send(sim, token: str, openid: str = "o1", content: str = "hi") -> int:
    resp = await sim.post(
        "/cgi-bin/message/custom/send",
        params={"access_token": token},
        json={"touser": openid, "msgtype": "text", "text": {"content": content}},
    )
    return (await resp.json())["errcode"]


async def interact(sim, openid: str = "o1", **extra) -> None:
    resp = await sim.post("/_sim/interaction", json={"openid": openid, **extra})
    assert resp.status == 200


async def test_token_needs_the_right_secret(sim):
    resp = await sim.get(
        "/cgi-bin/token", params={"grant_type": "client_credential", "appid": APPID, "secret": "no"}
    )
    assert (await resp.json())["errcode"] == 40125


async def test_unknown_and_expired_tokens_are_rejected(sim, clock):
    await interact(sim)
    assert await send(sim, "made-up") == 40001
    token = await fetch_token(sim)
    clock.advance(seconds=7200)
    assert await send(sim, token) == 42001


async def test_previous_token_works_for_five_minutes_after_a_refetch(sim, clock):
    await interact(sim)
    old = await fetch_token(sim)
    new = await fetch_token(sim)
    assert old != new
    assert await send(sim, old) == 0
    clock.advance(minutes=5)
    assert await send(sim, old) == 42001
    assert await send(sim, new) == 0


async def test_stable_token_is_reused_unless_force_refreshed(sim):
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    first = await (await sim.post("/cgi-bin/stable_token", json=body)).json()
    again = await (await sim.post("/cgi-bin/stable_token", json=body)).json()
    forced = await (
        await sim.post("/cgi-bin/stable_token", json={**body, "force_refresh": True})
    ).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]


async def test_customer_service_message_needs_a_relayed_interaction(sim):
    token = await fetch_token(sim)
    assert await send(sim, token, "stranger") == 45015


async def test_window_closes_48_hours_after_the_last_message(sim, clock):
    token = await fetch_token(sim)
    await interact(sim, time=(clock.now() - timedelta(hours=47, minutes=59)).isoformat())
    assert await send(sim, token) == 0
    clock.advance(minutes=1)
    assert await send(sim, token) == 45015


async def test_five_messages_per_window_then_45047_until_the_buyer_writes(sim):
    token = await fetch_token(sim)
    await interact(sim)
    assert [await send(sim, token) for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    await interact(sim)
    assert await send(sim, token) == 0


async def test_follow_opens_a_one_minute_window_of_three(sim, clock):
    token = await fetch_token(sim)
    await interact(sim, kind="follow")
    assert [await send(sim, token) for _ in range(4)] == [0, 0, 0, 45047]
    await interact(sim, "o2", kind="click")
    clock.advance(seconds=61)
    assert await send(sim, token, "o2") == 45015


async def test_accepted_messages_are_listed_per_buyer_since_an_id(sim):
    token = await fetch_token(sim)
    await interact(sim, openids=["o1", "o2"])
    await send(sim, token, "o1", "a")
    await send(sim, token, "o2", "b")
    await send(sim, token, "o1", "c")
    resp = await sim.get("/_sim/messages", params={"openid": "o1"})
    body = await resp.json()
    assert [m["content"] for m in body["messages"]] == ["a", "c"]
    first_id = body["messages"][0]["id"]
    later = await (await sim.get("/_sim/messages", params={"since": first_id})).json()
    assert [m["content"] for m in later["messages"]] == ["b", "c"]
    assert later["last_id"] == body["messages"][1]["id"]


async def test_template_messages_need_no_window_and_are_recorded(sim):
    token = await fetch_token(sim)
    resp = await sim.post(
        "/cgi-bin/message/template/send",
        params={"access_token": token},
        json={"touser": "o9", "template_id": "T", "data": {"first": {"value": "x"}}},
    )
    assert (await resp.json())["msgid"]
    assert sim.server.app[FAKE].messages_for("o9")[0]["template_id"] == "T"


async def test_injected_faults_answer_the_next_calls(sim):
    token = await fetch_token(sim)
    await interact(sim)
    await sim.post("/_sim/faults", json={"errcode": -1, "count": 2})
    assert [await send(sim, token) for _ in range(3)] == [-1, -1, 0]
    await sim.post("/_sim/faults", json={"expire_tokens": True})
    assert await send(sim, token) == 42001


async def test_malformed_body_is_a_wechat_error_not_a_crash(sim):
    token = await fetch_token(sim)
    resp = await sim.post(
        "/cgi-bin/message/custom/send", params={"access_token": token}, data=b"{not json"
    )
    assert (await resp.json())["errcode"] == 47001


def test_fake_wechat_command_is_available():
    result = CliRunner().invoke(main, ["fake-wechat", "--help"])
    assert result.exit_code == 0
    assert "--latency-ms" in result.output


async def _upload(sim, token: str, data: bytes, content_type: str = "image/png", kind="image"):
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("media", data, filename="a.png", content_type=content_type)
    resp = await sim.post(
        "/cgi-bin/media/upload", params={"access_token": token, "type": kind}, data=form
    )
    return await resp.json()


async def _send_image(sim, token: str, media_id: str, openid: str = "o1") -> int:
    resp = await sim.post(
        "/cgi-bin/message/custom/send",
        params={"access_token": token},
        json={"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
    )
    return (await resp.json())["errcode"]


async def test_an_uploaded_image_is_sent_under_the_same_window_and_quota(sim):
    token = await fetch_token(sim)
    uploaded = await _upload(sim, token, b"\x89PNG-data")
    assert uploaded["type"] == "image" and uploaded["media_id"]
    assert await _send_image(sim, token, uploaded["media_id"]) == 45015  # no interaction yet
    await interact(sim)
    assert [await _send_image(sim, token, uploaded["media_id"]) for _ in range(3)] == [0, 0, 0]
    assert [await send(sim, token) for _ in range(3)] == [0, 0, 45047]  # 5 in all
    served = await sim.get(f"/_sim/media/{uploaded['media_id']}")
    assert await served.read() == b"\x89PNG-data" and served.content_type == "image/png"


async def test_unknown_media_and_wrong_uploads_are_refused(sim):
    token = await fetch_token(sim)
    await interact(sim)
    assert await _send_image(sim, token, "media_never_uploaded") == 40007
    assert (await _upload(sim, token, b"GIF89a", kind="voice"))["errcode"] == 40004
    assert (await _upload(sim, token, b"%PDF", content_type="application/pdf"))["errcode"] == 40005
    assert (await _upload(sim, "bad-token", b"x"))["errcode"] == 40001
