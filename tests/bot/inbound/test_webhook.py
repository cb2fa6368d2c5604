"""The webhook speaks WeChat's callback protocol: verification, the three modes, bad input."""

from __future__ import annotations

import logging
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from bot.appkeys import CONFIG, METRICS
from bot.dialog.context import Reply
from bot.dialog.dispatch import Dispatcher
from bot.dialog.routing import Router
from bot.models import Buyer, InboundMessage, OutboundMessage
from demo.simulator.callback import CallbackSigner, message_xml, sign

OPENID = "oBuyer_1234567890abcdefgh"


async def count(wechat, model) -> int:
    async with wechat.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


def _wechat_cfg(wechat):
    return wechat.app[CONFIG].wechat


async def buyer(wechat, openid: str = OPENID) -> Buyer:
    async with wechat.sessionmaker() as session:
        return await session.scalar(select(Buyer).where(Buyer.openid == openid))


def plain_post(wechat, xml: str | bytes) -> tuple[dict, bytes]:
    """A correctly signed plain-mode POST of arbitrary bytes."""
    params = wechat.signer.query()
    return params, xml.encode() if isinstance(xml, str) else xml


# --- verification ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_url_verification_echoes_echostr(make_wechat, mode):
    wechat = await make_wechat(wechat={"encrypt_mode": mode})
    assert await wechat.verify("hello-wechat-123") == (200, "hello-wechat-123")


async def test_url_verification_with_wrong_signature_is_refused(wechat):
    params = {**wechat.signer.verification("x"), "signature": "0" * 40}
    async with wechat.http.get(wechat.url, params=params) as resp:
        assert resp.status == 403


# --- the three modes ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
async def test_text_gets_a_reply_in_every_mode(make_wechat, mode):
    wechat = await make_wechat(wechat={"encrypt_mode": mode})
    params, body = wechat.signer.text(OPENID, "帮助")
    status, answer = await wechat.request(params, body)
    assert status == 200
    if mode == "plain":
        assert b"<Encrypt>" not in answer
    else:  # an encrypted request gets an encrypted, signed reply
        assert b"<Encrypt>" in answer and b"<MsgSignature>" in answer
    reply = wechat.signer.parse_reply(answer)
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == OPENID
    assert "名片" in reply["Content"]


async def test_compat_mode_accepts_a_plain_post_too(make_wechat):
    wechat = await make_wechat(wechat={"encrypt_mode": "compat"})
    plain = CallbackSigner.from_config(_wechat_cfg(wechat), mode="plain", now=wechat.signer.now)
    status, answer = await wechat.request(*plain.text(OPENID, "帮助"))
    assert status == 200 and "名片" in plain.parse_reply(answer)["Content"]


async def test_safe_mode_refuses_an_unencrypted_post(make_wechat):
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    plain = CallbackSigner.from_config(_wechat_cfg(wechat), mode="plain", now=wechat.signer.now)
    status, _ = await wechat.request(*plain.text(OPENID, "帮助"))
    assert status == 403
    assert await count(wechat, InboundMessage) == 0


async def test_safe_mode_refuses_a_wrong_msg_signature(make_wechat):
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    params, body = wechat.signer.text(OPENID, "帮助")
    status, _ = await wechat.request({**params, "msg_signature": "0" * 40}, body)
    assert status == 403
    assert await count(wechat, InboundMessage) == 0


async def test_safe_mode_refuses_a_message_encrypted_for_another_appid(make_wechat):
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    cfg = _wechat_cfg(wechat)
    other = CallbackSigner(
        cfg.token, "wxsomeoneelse00000", cfg.encoding_aes_key, "safe", now=wechat.signer.now
    )
    status, _ = await wechat.request(*other.text(OPENID, "帮助"))
    assert status == 403
    assert await count(wechat, InboundMessage) == 0


# --- refused requests: 403 and nothing stored ------------------------------------------------


async def test_wrong_signature_is_refused_and_nothing_stored(wechat):
    params, body = wechat.signer.text(OPENID, "帮助")
    status, _ = await wechat.request({**params, "signature": "f" * 40}, body)
    assert status == 403
    assert await count(wechat, InboundMessage) == 0
    assert await count(wechat, Buyer) == 0


async def test_missing_signature_is_refused(wechat):
    params, body = wechat.signer.text(OPENID, "帮助")
    del params["signature"]
    assert (await wechat.request(params, body))[0] == 403


async def test_timestamp_outside_the_replay_window_is_refused(wechat, clock):
    params, body = wechat.signer.text(OPENID, "帮助")
    clock.advance(seconds=301)
    status, _ = await wechat.request(params, body)
    assert status == 403
    assert await count(wechat, InboundMessage) == 0


async def test_timestamp_inside_the_replay_window_is_accepted(wechat, clock):
    params, body = wechat.signer.text(OPENID, "帮助")
    clock.advance(seconds=299)
    assert "名片" in await wechat.exchange(params, body)


async def test_replay_window_zero_turns_the_timestamp_check_off(make_wechat, clock):
    wechat = await make_wechat(wechat={"replay_window_s": 0})
    params, body = wechat.signer.text(OPENID, "帮助")
    clock.advance(days=3)
    assert "名片" in await wechat.exchange(params, body)


async def test_body_over_64_kib_gets_413(wechat):
    params, _ = wechat.signer.text(OPENID, "x")
    _, body = wechat.signer.text(OPENID, "长" * 30_000)  # ~90 KB of UTF-8
    assert len(body) > 65536
    status, _ = await wechat.request(params, body)
    assert status == 413
    assert await count(wechat, InboundMessage) == 0


async def test_chunked_body_over_64_kib_gets_413(wechat):
    params, body = wechat.signer.text(OPENID, "长" * 30_000)

    async def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    async with wechat.http.post(wechat.url, params=params, data=chunks()) as resp:
        assert resp.status == 413
    assert await count(wechat, InboundMessage) == 0


# --- unreadable but authentic: `success`, never a 5xx ------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>oBuyer_1234567890abcdefgh</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol6;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oBuyer_1234567890abcdefgh</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&secret;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("<xml><ToUserName>gh", id="truncated"),
        pytest.param("this is not xml", id="not-xml"),
        pytest.param("", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param("<html><body>hi</body></html>", id="wrong-root"),
        pytest.param("<xml><MsgType>text</MsgType></xml>", id="no-sender"),
        pytest.param(BILLION_LAUGHS, id="entity-expansion"),
        pytest.param(EXTERNAL_ENTITY, id="external-entity"),
        pytest.param(
            message_xml({"FromUserName": "o" * 65, "CreateTime": 1, "MsgType": "text", "MsgId": 3}),
            id="overlong-openid",
        ),
    ],
)
async def test_unreadable_bodies_get_success_and_store_nothing(wechat, body):
    status, answer = await wechat.request(*plain_post(wechat, body))
    assert (status, answer) == (200, b"success")
    assert await count(wechat, InboundMessage) == 0


async def test_external_entity_in_safe_mode_gets_success(make_wechat):
    """The decrypted inner document is checked too, not only the envelope."""
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    signer = wechat.signer
    params = signer.query()
    envelope = signer.crypto.encrypt_message(EXTERNAL_ENTITY, params["nonce"], params["timestamp"])
    encrypt = ElementTree.fromstring(envelope).findtext("Encrypt")
    params.update(
        encrypt_type="aes",
        msg_signature=sign(signer.token, params["timestamp"], params["nonce"], encrypt),
    )
    body = message_xml({"ToUserName": "gh", "Encrypt": encrypt}).encode()
    assert await wechat.request(params, body) == (200, b"success")
    assert await count(wechat, InboundMessage) == 0


async def test_unknown_message_type_gets_success_and_is_recorded(wechat):
    answer = await wechat.send_message(OPENID, "hologram", Content="?")
    assert answer is None
    async with wechat.sessionmaker() as session:
        row = await session.scalar(select(InboundMessage))
    assert (row.msg_type, row.status) == ("hologram", "done")
    assert (await buyer(wechat)).last_interaction_at is not None


async def test_unknown_event_gets_success(wechat):
    assert await wechat.send_event(OPENID, "SOMETHING_NEW") is None


async def test_message_with_a_non_numeric_msgid_gets_success(wechat):
    xml = message_xml(
        {"FromUserName": OPENID, "CreateTime": 1, "MsgType": "text", "Content": "hi", "MsgId": "x"}
    )
    status, _ = await wechat.request(*plain_post(wechat, xml))
    assert status == 200


# --- what is stored --------------------------------------------------------------------------


async def test_inbound_and_passive_reply_are_stored(make_wechat, db_url):
    wechat = await make_wechat(database={"url": db_url})
    reply = await wechat.send_text(OPENID, "帮助")
    async with wechat.sessionmaker() as session:
        inbound = await session.scalar(select(InboundMessage))
        outbound = await session.scalar(select(OutboundMessage))
    assert inbound.content == "帮助"
    assert (inbound.msg_type, inbound.status, inbound.reply) == ("text", "done", reply)
    assert inbound.dedup_key.startswith(OPENID)
    assert (outbound.openid, outbound.channel, outbound.purpose) == (OPENID, "reply", "reply")
    assert (outbound.content, outbound.inbound_id, outbound.result) == (reply, inbound.id, "ok")


async def test_event_without_reply_stores_no_outbound(wechat):
    assert await wechat.send_event(OPENID, "unsubscribe") is None
    assert await count(wechat, OutboundMessage) == 0
    assert await count(wechat, InboundMessage) == 1


async def test_every_inbound_refreshes_last_interaction(wechat, clock):
    await wechat.send_text(OPENID, "帮助")
    first = (await buyer(wechat)).last_interaction_at
    assert first == clock.now()
    clock.advance(hours=30)
    await wechat.send_event(OPENID, "CLICK", key="MEMBER")
    assert (await buyer(wechat)).last_interaction_at == clock.now()


async def test_template_send_report_does_not_open_the_window(wechat, clock):
    await wechat.send_text(OPENID, "帮助")
    before = (await buyer(wechat)).last_interaction_at
    clock.advance(hours=50)
    await wechat.send_event(OPENID, "TEMPLATESENDJOBFINISH", Status="success")
    assert (await buyer(wechat)).last_interaction_at == before


async def test_follow_through_qr_code_records_subscription_and_scene(make_wechat, clock, db_url):
    wechat = await make_wechat(database={"url": db_url})
    welcome = await wechat.send_event(OPENID, "subscribe", key="qrscene_expo2026")
    assert "欢迎" in welcome
    followed = await buyer(wechat)
    assert followed.subscribed and followed.subscribed_at == clock.now()
    assert followed.qr_scene == "expo2026"
    assert followed.first_seen_at == clock.now()

    clock.advance(days=2)
    await wechat.send_event(OPENID, "unsubscribe")
    left = await buyer(wechat)
    assert not left.subscribed and left.unsubscribed_at == clock.now()
    assert left.subscribed_at == followed.subscribed_at and left.qr_scene == "expo2026"

    clock.advance(days=1)
    await wechat.send_event(OPENID, "subscribe")  # a plain follow keeps the scene
    back = await buyer(wechat)
    assert back.subscribed and back.subscribed_at == clock.now() and back.qr_scene == "expo2026"


async def test_first_message_from_an_unknown_buyer_creates_a_subscribed_buyer(wechat, clock):
    await wechat.send_text(OPENID, "你好")
    new = await buyer(wechat)
    assert new.subscribed and new.first_seen_at == clock.now() and new.qr_scene is None


# --- handler failures ------------------------------------------------------------------------

broken = Router("broken")


@broken.text(keywords=("boom",))
async def explode(ctx):
    ctx.buyer.display_name = "half-written"
    raise RuntimeError("handler bug")


async def _fallback(ctx):
    return Reply("ok")


async def test_handler_exception_gets_an_apology_and_is_logged_masked(make_wechat, caplog):
    wechat = await make_wechat(dispatcher=Dispatcher([broken], _fallback))
    with caplog.at_level(logging.ERROR, logger="laoke.webhook"):
        answer = await wechat.send_text(OPENID, "boom")
    assert "抱歉" in answer
    record = next(r for r in caplog.records if r.getMessage() == "handler failed")
    assert record.exc_info and "handler bug" in str(record.exc_info[1])
    assert OPENID not in record.fields["openid"]  # masked: oBuy…efgh
    assert record.fields["openid"].startswith(OPENID[:4])
    async with wechat.sessionmaker() as session:
        inbound = await session.scalar(select(InboundMessage))
    assert (inbound.status, inbound.reply) == ("failed", answer)
    assert (await buyer(wechat)).display_name is None  # the handler's writes rolled back
    assert await wechat.send_text(OPENID, "anything") == "ok"  # and the bot goes on


async def test_reply_with_cdata_terminator_arrives_intact(make_wechat):
    tricky = "a]]>b<c>&d"

    async def echo(ctx):
        return Reply(tricky)

    wechat = await make_wechat(dispatcher=Dispatcher([], echo))
    assert await wechat.send_text(OPENID, "x") == tricky


# --- operations ------------------------------------------------------------------------------


async def test_healthz_reports_the_database(wechat):
    async with wechat.http.get("/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["database"] == "ok"


async def test_healthz_fails_when_the_database_is_unreachable(aiohttp_client, make_config):
    from laoke.app import create_app

    config = make_config(database={"url": "postgresql+asyncpg://postgres@127.0.0.1:9/none"})
    client = await aiohttp_client(create_app(config, require_current_schema=False))
    async with client.get("/healthz") as resp:
        assert resp.status == 503


async def test_metrics_count_messages_and_handler_latency(wechat):
    await wechat.send_text(OPENID, "帮助")
    await wechat.send_event(OPENID, "subscribe")
    async with wechat.http.get("/metrics") as resp:
        text = await resp.text()
    assert 'laoke_messages_total{type="text"} 1.0' in text
    assert 'laoke_messages_total{type="subscribe"} 1.0' in text
    assert 'laoke_handler_seconds_count{handler="help.help_reply"} 1.0' in text
    assert wechat.app[METRICS].registry is not None


writer = Router("writer")


@writer.text(keywords=("改名",))
async def rename(ctx):
    ctx.buyer.display_name = "王老板"
    return Reply("好的")


@writer.text(keywords=("坏数据",))
async def break_constraint(ctx):
    ctx.buyer.display_name = "不该留下"
    ctx.buyer.first_seen_at = None  # NOT NULL: the commit fails
    return Reply("不该发出")


async def test_handler_writes_and_reply_are_committed_together(make_wechat):
    wechat = await make_wechat(dispatcher=Dispatcher([writer], _fallback))
    assert await wechat.send_text(OPENID, "改名") == "好的"
    assert (await buyer(wechat)).display_name == "王老板"
    async with wechat.sessionmaker() as session:
        inbound = await session.scalar(select(InboundMessage))
        outbound = await session.scalar(select(OutboundMessage))
    assert (inbound.status, inbound.reply, inbound.handler) == (
        "done",
        "好的",
        "test_webhook.rename",
    )
    assert outbound.content == "好的"


async def test_handler_transaction_that_cannot_commit_gets_an_apology(make_wechat):
    wechat = await make_wechat(dispatcher=Dispatcher([writer], _fallback))
    answer = await wechat.send_text(OPENID, "坏数据")
    assert "抱歉" in answer
    assert (await buyer(wechat)).display_name is None
    async with wechat.sessionmaker() as session:
        inbound = await session.scalar(select(InboundMessage))
    assert (inbound.status, inbound.reply) == ("failed", answer)
