"""What a hostile sender can put in a callback: deep documents, absurd timestamps, signatures
probed byte by byte. Every answer is a 403 or `success`, never a 5xx, and nothing is stored."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

import bot.inbound.signature
from bot.models import InboundMessage
from demo.simulator.callback import message_xml, sign

OPENID = "oBuyer_1234567890abcdefgh"


async def stored(wechat) -> int:
    async with wechat.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InboundMessage))


def deep(levels: int) -> str:
    """A text message whose Content holds an element nested `levels` deep."""
    inner = "<a>" * levels + "x" + "</a>" * levels
    return (
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName>"
        f"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>{inner}</Content>"
        "<MsgId>7</MsgId></xml>"
    )


def encrypted(signer, inner: str) -> tuple[dict, bytes]:
    """A safe-mode POST whose (authentic) inner document is `inner`."""
    params = signer.query()
    envelope = signer.crypto.encrypt_message(inner, params["nonce"], params["timestamp"])
    encrypt = ElementTree.fromstring(envelope).findtext("Encrypt")
    params.update(
        encrypt_type="aes",
        msg_signature=sign(signer.token, params["timestamp"], params["nonce"], encrypt),
    )
    return params, message_xml({"ToUserName": "gh", "Encrypt": encrypt}).encode()


@pytest.mark.parametrize("levels", [1_000, 5_000])
async def test_deeply_nested_plain_document_gets_success_and_stores_nothing(wechat, levels):
    params = wechat.signer.query()
    assert await wechat.request(params, deep(levels).encode()) == (200, b"success")
    assert await stored(wechat) == 0


async def test_deeply_nested_inner_document_in_safe_mode_gets_success(make_wechat):
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    assert await wechat.request(*encrypted(wechat.signer, deep(1_000))) == (200, b"success")
    assert await stored(wechat) == 0


async def test_wechat_nesting_depth_is_still_read(wechat):
    """A picture-menu event (SendPicsInfo/PicList/item/PicMd5Sum) is as deep as WeChat goes."""
    params, body = wechat.signer.event(OPENID, "pic_weixin", key="menu")
    body = body.replace(
        b"</xml>",
        b"<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum>ab</PicMd5Sum></item>"
        b"</PicList></SendPicsInfo></xml>",
    )
    assert (await wechat.request(params, body))[0] == 200
    assert await stored(wechat) == 1


@pytest.mark.parametrize("window", [300, 0])
@pytest.mark.parametrize("timestamp", ["9" * 400, "1" * 13, "١٧٠٠٠٠٠٠٠٠", "-5", "1e9"])
async def test_signed_absurd_timestamp_is_refused(make_wechat, window, timestamp):
    wechat = await make_wechat(wechat={"replay_window_s": window})
    params, body = wechat.signer.text(OPENID, "帮助")
    params["signature"] = sign(wechat.signer.token, timestamp, params["nonce"])
    params["timestamp"] = timestamp
    assert (await wechat.request(params, body))[0] == 403
    assert await stored(wechat) == 0


@pytest.fixture
def compared(monkeypatch) -> list[tuple[bytes, bytes]]:
    """Every signature comparison the webhook makes (it must go through compare_digest)."""
    calls: list[tuple[bytes, bytes]] = []
    real = bot.inbound.signature.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(bot.inbound.signature.hmac, "compare_digest", spy)
    return calls


async def test_query_signature_is_compared_in_constant_time(wechat, compared):
    params, body = wechat.signer.text(OPENID, "帮助")
    assert (await wechat.request(params, body))[0] == 200
    assert (params["signature"].encode(), params["signature"].encode()) in compared
    bad = dict(params, signature="0" * 40)
    assert (await wechat.request(bad, body))[0] == 403
    assert any(b"0" * 40 in pair for pair in compared)


async def test_msg_signature_is_compared_in_constant_time(make_wechat, compared):
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"})
    params, body = wechat.signer.text(OPENID, "帮助")
    assert (await wechat.request(params, body))[0] == 200
    assert any(params["msg_signature"].encode() in pair for pair in compared)
    bad = dict(params, msg_signature="f" * 40)
    assert (await wechat.request(bad, body))[0] == 403
    assert any(b"f" * 40 in pair for pair in compared)
