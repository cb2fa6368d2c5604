"""A signed query of an unencrypted callback carries one body only, across processes.

In plain and compatible mode WeChat signs the query, not the body: these tests are the attack
(one captured query, many forged bodies) and the retries that must still work."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.inbound.nonces import CallbackNonce
from bot.models import Buyer, InboundMessage
from demo.simulator.callback import CallbackSigner, message_xml

VICTIM = "oBuyer_victim_000000000000"


def plain_signer(wechat, clock) -> CallbackSigner:
    """Signs as WeChat does for an unencrypted POST (plain mode, or compat without aes)."""
    return CallbackSigner(
        wechat.signer.token, wechat.signer.appid, mode="plain", now=lambda: clock.now().timestamp()
    )


def text_body(openid: str, content: str, msg_id: int, create_time: int) -> bytes:
    return message_xml(
        {
            "ToUserName": "gh_laoke_test",
            "FromUserName": openid,
            "CreateTime": create_time,
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    ).encode()


async def scalar(wechat, stmt):
    async with wechat.sessionmaker() as session:
        return await session.scalar(stmt)


@pytest.mark.parametrize("mode", ["compat", "plain"])
async def test_one_captured_query_cannot_carry_forged_opt_outs(make_wechat, clock, db_url, mode):
    wechat = await make_wechat(wechat={"encrypt_mode": mode}, database={"url": db_url})
    signer = plain_signer(wechat, clock)
    now = int(clock.now().timestamp())
    captured, body = signer.text(VICTIM, "帮助")
    assert (await wechat.request(captured, body))[0] == 200
    victims = [f"oBuyer_forged_{i:02d}_0000000000" for i in range(20)]
    for i, openid in enumerate(victims):  # the attacker's 20 bodies under the same query
        forged = text_body(openid, "退订", 900_000 + i, now)
        assert (await wechat.request(dict(captured, openid=openid), forged))[0] == 403
    opted_out = select(func.count()).select_from(Buyer).where(Buyer.opted_out.is_(True))
    assert await scalar(wechat, opted_out) == 0
    assert await scalar(wechat, select(func.count()).select_from(InboundMessage)) == 1


async def test_a_retry_with_the_same_query_and_body_gets_the_same_reply(make_wechat, db_url):
    wechat = await make_wechat(database={"url": db_url})
    params, body = wechat.signer.text(VICTIM, "帮助")
    first = await wechat.request(params, body)
    again = await wechat.request(params, body)
    assert first[0] == 200 and "名片".encode() in first[1]
    assert again == first
    assert await scalar(wechat, select(func.count()).select_from(InboundMessage)) == 1


async def test_a_reused_query_is_refused_by_another_process(make_wechat, db_url):
    """Two `serve` processes on one database share the record."""
    one = await make_wechat(database={"url": db_url})
    two = await make_wechat(database={"url": db_url})
    params, body = one.signer.text(VICTIM, "帮助")
    assert (await one.request(params, body))[0] == 200
    _, other_body = one.signer.text(VICTIM, "退订")
    assert (await two.request(params, other_body))[0] == 403
    assert (await two.request(params, body))[0] == 200  # WeChat's retry, served by the other


async def test_safe_mode_records_no_nonce(make_wechat, db_url):
    """msg_signature signs the ciphertext: the body cannot be swapped, nothing to record."""
    wechat = await make_wechat(wechat={"encrypt_mode": "safe"}, database={"url": db_url})
    assert "名片" in await wechat.send_text(VICTIM, "帮助")
    assert await scalar(wechat, select(func.count()).select_from(CallbackNonce)) == 0


async def test_records_are_pruned_after_twice_the_window(make_wechat, clock, db_url):
    wechat = await make_wechat(database={"url": db_url})
    assert await wechat.send_text(VICTIM, "帮助")
    clock.advance(seconds=599)  # a query seen now may be reused until 2 × 300 s
    assert await wechat.send_text(VICTIM, "帮助")
    assert await scalar(wechat, select(func.count()).select_from(CallbackNonce)) == 2
    clock.advance(seconds=61)  # pruning runs once a minute; the first row is 660 s old
    assert await wechat.send_text(VICTIM, "帮助")
    assert await scalar(wechat, select(func.count()).select_from(CallbackNonce)) == 2


async def test_window_zero_leaves_a_captured_query_open(make_wechat, db_url):
    """Documented: with replay_window_s = 0 replay protection is off altogether."""
    wechat = await make_wechat(wechat={"replay_window_s": 0}, database={"url": db_url})
    params, body = wechat.signer.text(VICTIM, "帮助")
    assert (await wechat.request(params, body))[0] == 200
    _, other = wechat.signer.text(VICTIM, "退订")
    assert (await wechat.request(params, other))[0] == 200
    assert await scalar(wechat, select(func.count()).select_from(CallbackNonce)) == 0
