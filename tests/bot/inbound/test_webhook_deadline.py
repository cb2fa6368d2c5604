"""The 5-second deadline: a slow handler's buyer gets the reply later, through the API."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.dialog.context import Reply
from bot.dialog.dispatch import Dispatcher
from bot.dialog.routing import Router
from bot.inbound.webhook import WEBHOOK
from bot.models import Buyer, InboundMessage, OutboundMessage
from bot.wechat.client import WeChatAPIError

OPENID = "oBuyer_1234567890abcdefgh"
BUDGET = {"reply_budget_s": 0.05}


class RecordingAPI:
    """Stands in for the WeChat API client: records customer-service sends."""

    def __init__(self, error: int | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.error = error

    async def send_text(self, openid: str, content: str) -> dict:
        if self.error is not None:
            raise WeChatAPIError(self.error, "refused")
        self.sent.append((openid, content))
        return {"errcode": 0}


class SlowBot:
    """A handler that does not answer until `gate` opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.runs = 0
        router = Router("slow")

        @router.text()
        async def ponder(ctx):
            self.runs += 1
            await self.gate.wait()
            ctx.buyer.display_name = "老王"  # a handler's own write lands with the reply
            return Reply("想好了：这是迟到的回复")

        self.dispatcher = Dispatcher([router], fallback=_no_reply)


async def _no_reply(ctx):
    return None


async def start(make_wechat, api: RecordingAPI):
    bot = SlowBot()
    wechat = await make_wechat(server=BUDGET, dispatcher=bot.dispatcher)
    wechat.services.api = api
    return wechat, bot


async def finish_background_work(wechat) -> None:
    await asyncio.gather(*wechat.app[WEBHOOK].handling.tasks)


async def stored(wechat):
    async with wechat.sessionmaker() as session:
        inbound = await session.scalar(select(InboundMessage))
        outbound = (await session.scalars(select(OutboundMessage))).all()
    return inbound, outbound


async def test_slow_handler_gets_success_and_its_reply_goes_by_api(make_wechat):
    api = RecordingAPI()
    wechat, bot = await start(make_wechat, api)
    assert await wechat.send_text(OPENID, "有货吗") is None  # `success`, within the budget
    inbound, outbound = await stored(wechat)
    assert inbound.deferred and inbound.status == "processing"

    bot.gate.set()
    await finish_background_work(wechat)
    assert api.sent == [(OPENID, "想好了：这是迟到的回复")]
    inbound, outbound = await stored(wechat)
    assert (inbound.status, inbound.deferred, inbound.reply) == ("done", True, None)
    assert [(o.channel, o.purpose, o.result, o.content) for o in outbound] == [
        ("custom", "deferred_reply", "ok", "想好了：这是迟到的回复")
    ]
    async with wechat.http.get("/metrics") as resp:
        assert "laoke_deferred_replies_total 1.0" in await resp.text()


async def test_handler_writes_are_kept_when_its_reply_is_deferred(make_wechat):
    wechat, bot = await start(make_wechat, RecordingAPI())
    await wechat.send_text(OPENID, "有货吗")
    bot.gate.set()
    await finish_background_work(wechat)
    async with wechat.sessionmaker() as session:
        assert await session.scalar(select(Buyer.display_name)) == "老王"


@pytest.mark.parametrize("while_running", [True, False], ids=["while-running", "after"])
async def test_retries_of_a_deferred_message_get_success(make_wechat, while_running):
    api = RecordingAPI()
    wechat, bot = await start(make_wechat, api)
    params, body = wechat.signer.text(OPENID, "有货吗")
    assert await wechat.exchange(params, body) is None
    if not while_running:
        bot.gate.set()
        await finish_background_work(wechat)
    assert await wechat.exchange(params, body) is None
    bot.gate.set()
    await finish_background_work(wechat)
    assert bot.runs == 1
    assert len(api.sent) == 1  # the buyer gets the reply once


async def test_deferred_reply_refused_by_wechat_is_recorded_as_failed(make_wechat):
    wechat, bot = await start(make_wechat, RecordingAPI(error=45015))
    await wechat.send_text(OPENID, "有货吗")
    bot.gate.set()
    await finish_background_work(wechat)
    _, outbound = await stored(wechat)
    assert [(o.channel, o.result, o.errcode) for o in outbound] == [("custom", "failed", 45015)]


async def test_fast_handler_is_answered_directly_within_the_budget(make_wechat):
    api = RecordingAPI()
    wechat = await make_wechat(server={"reply_budget_s": 2.0})
    wechat.services.api = api
    assert "名片" in await wechat.send_text(OPENID, "帮助")
    assert api.sent == []
