"""WeChat's retries are handled exactly once, and every retry gets the same reply."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.appkeys import DISPATCHER, METRICS, SESSIONMAKER
from bot.dialog.context import Reply
from bot.dialog.dispatch import Dispatcher
from bot.dialog.routing import Router
from bot.models import InboundMessage, OutboundMessage
from demo.simulator.callback import CallbackClient, CallbackSigner
from laoke.app import create_app

OPENID = "oBuyer_1234567890abcdefgh"
OTHER = "oOther_1234567890abcdefgh"


class CountingBot:
    """A test dispatcher that counts handler runs; `gate` holds handlers until opened."""

    def __init__(self) -> None:
        self.runs = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        router = Router("counting")

        @router.text()
        async def answer(ctx):
            self.runs += 1
            self.started.set()
            await self.gate.wait()
            return Reply(f"reply #{self.runs} to {ctx.text}")

        @router.event("click")
        async def click(ctx):
            self.runs += 1
            return Reply(f"click #{self.runs} {ctx.event_key}")

        self.dispatcher = Dispatcher([router], fallback=_no_reply)


async def _no_reply(ctx):
    return None


async def inbound_rows(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InboundMessage))


async def test_retry_of_same_msgid_gets_same_reply(make_wechat):
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher)
    params, body = wechat.signer.text(OPENID, "你好")
    first = await wechat.exchange(params, body)
    retries = [await wechat.exchange(params, body) for _ in range(3)]
    assert first == "reply #1 to 你好"
    assert retries == [first] * 3
    assert bot.runs == 1
    assert await inbound_rows(wechat.sessionmaker) == 1
    async with wechat.sessionmaker() as session:
        outbound = await session.scalar(select(func.count()).select_from(OutboundMessage))
    assert outbound == 1  # a retry answers the stored reply; it is not a second message
    async with wechat.http.get("/metrics") as resp:
        assert "laoke_dedup_hits_total 3.0" in await resp.text()


async def test_retry_signed_anew_is_still_recognised(make_wechat, clock):
    """WeChat signs each try with a new timestamp and nonce; the body's MsgId decides."""
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher)
    _, body = wechat.signer.text(OPENID, "你好", msg_id=42)
    first = await wechat.exchange(wechat.signer.query(), body)
    clock.advance(seconds=5)
    assert await wechat.exchange(wechat.signer.query(), body) == first
    assert bot.runs == 1


async def test_concurrent_retries_wait_for_the_first_and_get_its_reply(make_wechat):
    bot = CountingBot()
    bot.gate.clear()
    wechat = await make_wechat(dispatcher=bot.dispatcher)
    params, body = wechat.signer.text(OPENID, "在吗")
    tries = [asyncio.create_task(wechat.exchange(params, body)) for _ in range(4)]
    await bot.started.wait()
    await asyncio.sleep(0)  # let the retries reach their wait
    bot.gate.set()
    answers = await asyncio.gather(*tries)
    assert answers == ["reply #1 to 在吗"] * 4
    assert bot.runs == 1
    assert await inbound_rows(wechat.sessionmaker) == 1


async def test_same_msgid_from_two_buyers_is_two_messages(make_wechat):
    """MsgIds of different users have been seen to collide: the sender is part of the key."""
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher)
    a = await wechat.exchange(*wechat.signer.text(OPENID, "甲", msg_id=7))
    b = await wechat.exchange(*wechat.signer.text(OTHER, "乙", msg_id=7))
    assert (a, b) == ("reply #1 to 甲", "reply #2 to 乙")
    assert await inbound_rows(wechat.sessionmaker) == 2


async def test_event_retry_is_recognised_by_sender_and_create_time(make_wechat):
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher)
    params, body = wechat.signer.event(OPENID, "CLICK", key="MEMBER", create_time=1_700_000_000)
    first = await wechat.exchange(params, body)
    assert await wechat.exchange(params, body) == first == "click #1 MEMBER"
    # Another click in the same second, on another menu key, is another event.
    other = await wechat.exchange(
        *wechat.signer.event(OPENID, "CLICK", key="LIVE", create_time=1_700_000_000)
    )
    assert other == "click #2 LIVE"
    assert bot.runs == 2


async def test_retry_of_a_message_without_reply_gets_success_again(wechat):
    params, body = wechat.signer.event(OPENID, "unsubscribe", create_time=1_700_000_000)
    assert await wechat.exchange(params, body) is None
    assert await wechat.exchange(params, body) is None
    assert await inbound_rows(wechat.sessionmaker) == 1


async def test_two_servers_sharing_one_database_handle_a_retry_once(
    aiohttp_client, make_config, clock, db_url
):
    """Two processes (two apps here) on one database: the retry that reaches the second
    server while the first is still working waits for the first's reply (by polling)."""
    config = make_config(database={"url": db_url})
    bot = CountingBot()
    bot.gate.clear()
    servers = []
    for _ in range(2):
        app = create_app(config, clock=clock)

        async def use_bot(app):
            app[DISPATCHER] = bot.dispatcher
            yield

        app.cleanup_ctx.append(use_bot)
        servers.append(await aiohttp_client(app))
    signer = CallbackSigner.from_config(config.wechat, now=lambda: clock.now().timestamp())
    first, second = (CallbackClient(signer, s, config.server.webhook_path) for s in servers)
    params, body = signer.text(OPENID, "同一条")

    original = asyncio.create_task(first.exchange(params, body))
    await bot.started.wait()
    retry = asyncio.create_task(second.exchange(params, body))
    await asyncio.sleep(0.05)  # the retry is now polling the database on the other server
    assert not retry.done()
    bot.gate.set()
    assert await original == await retry == "reply #1 to 同一条"
    assert bot.runs == 1
    assert servers[1].app[METRICS].dedup_hits._value.get() == 1
    assert await inbound_rows(servers[0].app[SESSIONMAKER]) == 1


async def test_many_buyers_at_once_are_all_stored(make_wechat):
    """Concurrent messages from many buyers are each claimed, answered and stored once."""
    wechat = await make_wechat()
    answers = await asyncio.gather(
        *(wechat.send_text(f"oMany{i:02d}_1234567890abcdefgh", "帮助") for i in range(40))
    )
    assert all("名片" in a for a in answers)
    assert await inbound_rows(wechat.sessionmaker) == 40


async def test_a_buyers_messages_are_handled_in_order_each_seeing_the_last_ones_writes(
    make_wechat,
):
    gate, started = asyncio.Event(), asyncio.Event()
    router = Router("order")

    @router.text(keywords=("我叫老王",))
    async def remember(ctx):
        started.set()
        await gate.wait()
        ctx.buyer.display_name = "老王"
        return Reply("记住了")

    @router.text(keywords=("我是谁",))
    async def recall(ctx):
        return Reply(ctx.buyer.display_name or "不知道")

    wechat = await make_wechat(dispatcher=Dispatcher([router], fallback=_no_reply))
    first = asyncio.create_task(wechat.send_text(OPENID, "我叫老王"))
    await started.wait()
    second = asyncio.create_task(wechat.send_text(OPENID, "我是谁"))
    await asyncio.sleep(0.02)  # the second message is claimed and waits for its turn
    assert not second.done()
    gate.set()
    assert (await first, await second) == ("记住了", "老王")


async def lost_claim(wechat, clock, msg_id: int, content: str) -> None:
    """A row as left by a process that claimed the message and died before answering."""
    async with wechat.sessionmaker() as session, session.begin():
        session.add(
            InboundMessage(
                dedup_key=f"{OPENID}|m|{msg_id}",
                openid=OPENID,
                msg_type="text",
                content=content,
                received_at=clock.now(),
                status="processing",
                deferred=False,
            )
        )


async def test_a_retry_takes_over_a_message_whose_handler_was_lost(make_wechat, clock, db_url):
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher, database={"url": db_url})
    await lost_claim(wechat, clock, 99, "还在吗")
    clock.advance(seconds=6)  # WeChat's retry, after the dead owner's budget
    assert await wechat.send_text(OPENID, "还在吗", msg_id=99) == "reply #1 to 还在吗"
    assert bot.runs == 1
    async with wechat.sessionmaker() as session:
        row = await session.scalar(select(InboundMessage))
    assert (row.status, row.reply) == ("done", "reply #1 to 还在吗")


async def test_a_retry_does_not_take_over_a_message_still_within_its_budget(make_wechat, clock):
    bot = CountingBot()
    wechat = await make_wechat(dispatcher=bot.dispatcher, server={"reply_budget_s": 0.05})
    await lost_claim(wechat, clock, 98, "在吗")  # its owner may still be working on it
    assert await wechat.send_text(OPENID, "在吗", msg_id=98) is None
    assert bot.runs == 0
