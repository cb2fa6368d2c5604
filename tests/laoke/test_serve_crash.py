"""A real ``laoke serve`` killed (SIGKILL) under load, restarted, and retried as WeChat would.

Thirty buyers talk to the server at once; the process is killed while messages are in
flight. After the restart every message is sent again with the same bytes (WeChat retries the
unanswered ones; the answered ones are sent again too, to check their replay). Every message
ends handled exactly once: one inbound row per message, done, with one stored reply; a
message answered before the crash gets the same reply again; and the ones the crash cut
off — claimed but never answered, or never stored at all — are answered now.
"""

from __future__ import annotations

import asyncio
import signal

import aiohttp
from laoke_process import free_port, start_serve, write_serve_config
from sqlalchemy import func, select

from bot.database import create_engine, sessionmaker
from bot.models import InboundMessage, OutboundMessage
from demo.simulator.callback import CallbackSigner

TOKEN, APPID = "crashtoken", "wxcrashserve00001"
BUYERS = 30


async def test_serve_killed_under_load_handles_every_message_once_after_restart(db_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_serve_config(
        tmp_path / "serve.toml", port, db_url, appid=APPID, token=TOKEN,
        spool_dir=tmp_path / "spool", reply_budget_s=0.5,
    )  # fmt: skip
    log = tmp_path / "serve.log"
    signer = CallbackSigner(TOKEN, APPID)
    sent: list[tuple[dict, bytes]] = []  # every message WeChat delivered, as sent
    answered: dict[int, bytes] = {}  # index in `sent` → the reply before the crash
    under_load = asyncio.Event()

    server = await start_serve(config, log, url)
    async with aiohttp.ClientSession() as http:

        async def post(params: dict, body: bytes) -> bytes:
            async with http.post(url + "/wechat", params=params, data=body) as resp:
                assert resp.status == 200
                return await resp.read()

        async def buyer(n: int) -> None:  # a closed loop until the server dies
            while True:
                # 谢谢 gets the same text every time (在吗 now goes to the staff inbox,
                # acknowledged once per conversation and answered `success` after).
                sent.append(signer.text(f"oCrash{n:03d}", "谢谢"))
                index = len(sent) - 1
                try:
                    answered[index] = await post(*sent[index])
                except (aiohttp.ClientError, AssertionError):
                    return
                if len(answered) >= 300:
                    under_load.set()

        load = [asyncio.create_task(buyer(n)) for n in range(BUYERS)]
        await asyncio.wait_for(under_load.wait(), 60)
        server.send_signal(signal.SIGKILL)
        await server.wait()
        await asyncio.gather(*load)
        cut_off = set(range(len(sent))) - answered.keys()
        assert cut_off  # the kill caught messages in flight

        server = await start_serve(config, log, url)
        try:
            # A claim whose handler died is taken over once it is older than the budget allows.
            await asyncio.sleep(0.5 + 1.0 + 0.2)
            retried = await asyncio.gather(*(post(*message) for message in sent))
        finally:
            server.send_signal(signal.SIGTERM)
            await server.wait()

    def same(reply: bytes) -> dict:  # the reply's fields; its CreateTime is the answer's time
        fields = signer.parse_reply(reply)
        assert fields and fields["Content"]
        return {k: v for k, v in fields.items() if k != "CreateTime"}

    for index, reply in answered.items():
        assert same(retried[index]) == same(reply)  # an answered message gets the same reply
    for index in cut_off:
        assert signer.parse_reply(retried[index])  # a cut-off message is answered now
    engine = create_engine(db_url)
    try:
        async with sessionmaker(engine)() as session:
            inbound = (
                await session.execute(
                    select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
                )
            ).all()
            replies = await session.scalar(
                select(func.count(func.distinct(OutboundMessage.inbound_id))).where(
                    OutboundMessage.channel == "reply"
                )
            )
            outbound = await session.scalar(select(func.count()).select_from(OutboundMessage))
    finally:
        await engine.dispose()
    assert dict(inbound) == {"done": len(sent)}  # one row per message: none lost, none doubled
    assert replies == outbound == len(sent)  # one stored reply each
