"""Messages that arrive while the database is down are spooled, then handled once it is back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.inbound.handling import NotStored
from bot.inbound.spool import Spool, SpoolError
from bot.inbound.webhook import WEBHOOK
from bot.models import Buyer, InboundMessage, OutboundMessage


def test_spooled_messages_come_back_oldest_first_and_go_when_done(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    first, second = spool.put("<xml>1</xml>"), spool.put("<xml>2</xml>")
    assert spool.pending() == [first, second]
    assert [spool.read(p) for p in spool.pending()] == ["<xml>1</xml>", "<xml>2</xml>"]
    spool.done(first)
    assert spool.pending() == [second] and spool.read(first) is None
    bad = spool.set_aside(second)
    assert spool.pending() == [] and bad.read_text() == "<xml>2</xml>"  # kept for a human
    assert not [p for p in spool.folder.iterdir() if p.name.startswith(".")]  # no temp files


def test_a_spool_that_cannot_be_written_says_where(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoolError, match=f"cannot create the spool folder {blocker}/spool"):
        Spool(blocker / "spool").prepare()
    spool = Spool(tmp_path / "gone")
    with pytest.raises(SpoolError, match="cannot write to the spool"):
        spool.put("<xml/>")  # the folder is not there


async def _until(condition, what: str) -> None:
    for _ in range(500):  # 10 s; the replay task looks every second
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_database_outage_loses_no_message(make_wechat, fake_wechat, own_pg, clock):
    wechat = await make_wechat(database={"url": own_pg.url}, wechat=fake_wechat.wechat_config())
    hook = wechat.app[WEBHOOK]
    assert "会员" in (await wechat.send_text("oAlice", "会员") or "")  # all well: answered at once
    for openid in ("oAlice", "oBob"):
        fake_wechat.open_window(openid)  # they wrote: their 48-hour windows are open

    clock.advance(minutes=5)
    outage_at = clock.now()
    await own_pg.down()
    during = [
        wechat.signer.text("oBob", "会员"),
        wechat.signer.text("oAlice", "你好"),
    ]
    answers = [await wechat.request(*message) for message in during]
    # WeChat is told `success` (no retries, no error shown to the buyer) …
    assert answers == [(200, b"success"), (200, b"success")]
    assert (await wechat.request(*during[0])) == (200, b"success")  # … also for its retry
    assert len(hook.spool.pending()) == 3
    assert wechat.services.metrics.spooled._value.get() == 3
    assert await hook.replay_spool() == 0  # still down: everything stays
    assert len(hook.spool.pending()) == 3
    assert wechat.services.metrics.spool_pending._value.get() == 3  # an operator sees them wait

    clock.advance(minutes=10)  # the database is back ten minutes later
    await own_pg.up()

    async def spool_empty() -> bool:  # and said so on /metrics
        return not hook.spool.pending() and not wechat.services.metrics.spool_pending._value.get()

    await _until(spool_empty, "the spool to be replayed")  # by the server's own replay task
    async with wechat.sessionmaker() as session:
        rows = (
            await session.execute(
                select(InboundMessage.openid, InboundMessage.content, InboundMessage.status)
            )
        ).all()
        late = (
            await session.scalars(
                select(OutboundMessage.purpose).where(OutboundMessage.openid == "oBob")
            )
        ).all()
        windows = dict(
            (await session.execute(select(Buyer.openid, Buyer.last_interaction_at))).all()
        )
    # Each message once — the retry spooled twice counts once — and handled to the end.
    assert sorted(rows) == [
        ("oAlice", "会员", "done"),
        ("oAlice", "你好", "done"),
        ("oBob", "会员", "done"),
    ]
    # Their 48-hour windows opened when WeChat received the messages, not at the replay.
    assert windows == {"oAlice": outage_at, "oBob": outage_at}
    assert late == ["deferred_reply"]  # Bob's reply went by the customer-service API …
    [sent] = fake_wechat.messages("oBob")
    assert "会员" in sent["content"] or "等级" in sent["content"]  # … and reached him, once


async def test_after_a_restart_the_messages_meeting_dead_connections_are_not_lost(
    make_wechat, fake_wechat, own_pg
):
    wechat = await make_wechat(database={"url": own_pg.url}, wechat=fake_wechat.wechat_config())
    hook = wechat.app[WEBHOOK]
    openids = [f"oAfter{i}" for i in range(5)]
    for openid in openids:
        assert await wechat.send_text(openid, "会员")  # the pool holds live connections
        fake_wechat.open_window(openid)
    await own_pg.cut()  # PostgreSQL restarted: every pooled connection is dead
    answers = [await wechat.send_text(openid, "我的等级") for openid in openids]

    async def settled() -> bool:
        return not hook.spool.pending()

    await _until(settled, "the spool to be replayed")
    async with wechat.sessionmaker() as session:
        rows = (
            await session.execute(
                select(InboundMessage.openid, InboundMessage.status).where(
                    InboundMessage.content == "我的等级"
                )
            )
        ).all()
    assert sorted(rows) == [(o, "done") for o in openids]  # every one stored, once
    for openid, answer in zip(openids, answers, strict=True):
        by_api = [m for m in fake_wechat.messages(openid)]
        # Answered at once on a fresh connection, or spooled and answered by API: never both.
        assert (answer is not None) != bool(by_api), (openid, answer, by_api)


async def test_with_the_spool_unwritable_too_wechat_gets_503_not_success(
    make_wechat, fake_wechat, own_pg
):
    wechat = await make_wechat(database={"url": own_pg.url}, wechat=fake_wechat.wechat_config())
    hook = wechat.app[WEBHOOK]
    await own_pg.down()
    hook.spool.folder.rmdir()
    hook.spool.folder.write_text("the disk is not what it was")  # the folder is gone
    message = wechat.signer.text("oCarol", "会员")
    # Not `success`: that would tell WeChat the message was taken care of.
    assert (await wechat.request(*message))[0] == 503
    hook.spool.folder.unlink()
    hook.spool.prepare()
    assert (await wechat.request(*message)) == (200, b"success")  # WeChat's retry is kept
    assert len(hook.spool.pending()) == 1


async def _no_replay_loop(self) -> None:
    return None


async def test_a_spooled_message_refused_while_the_database_answers_is_set_aside(
    make_wechat, monkeypatch
):
    import bot.inbound.webhook

    # Rounds driven by the test: the app's own replay loop (whose first round could otherwise
    # meet the files below on a busy machine) never runs.
    monkeypatch.setattr(bot.inbound.webhook.Webhook, "_replaying", _no_replay_loop)
    wechat = await make_wechat()
    hook = wechat.app[WEBHOOK]
    handle = hook.handling.handle

    async def refuse_one_buyer(message, deadline, **kw):  # e.g. a value the database rejects
        if message.source == "oPoison":
            raise NotStored("DataError: value out of range")
        return await handle(message, deadline, **kw)

    monkeypatch.setattr(hook.handling, "handle", refuse_one_buyer)
    poison = hook.spool.put(wechat.signer.text("oPoison", "会员")[1].decode())
    garbage = hook.spool.put("<xml><Content>no sender</Content></xml>")
    good = hook.spool.put(wechat.signer.text("oFine", "会员")[1].decode())

    assert await hook.replay_spool() == 1  # the good one; the garbage is set aside at once
    assert hook.spool.pending() == [poison]  # refused once: perhaps the database coming back
    assert garbage.with_suffix(".bad").exists() and not good.exists()
    assert await hook.replay_spool() == 0
    assert hook.spool.pending() == [poison]
    await hook.replay_spool()  # the third refusal with the database answering: the message
    assert hook.spool.pending() == [] and poison.with_suffix(".bad").exists()
    assert wechat.services.metrics.spool_pending._value.get() == 0  # set aside: not waiting
    async with wechat.sessionmaker() as session:
        assert (await session.scalars(select(InboundMessage.openid))).all() == ["oFine"]


async def test_a_replayed_message_dates_the_window_when_wechat_received_it(
    make_wechat, db_url, clock, monkeypatch
):
    import bot.inbound.webhook

    # Rounds driven by the test: the app's own replay loop (whose first round could otherwise
    # meet the files below on a busy machine) never runs.
    monkeypatch.setattr(bot.inbound.webhook.Webhook, "_replaying", _no_replay_loop)
    wechat = await make_wechat(database={"url": db_url})
    hook = wechat.app[WEBHOOK]

    async def last_interaction(openid):
        async with wechat.sessionmaker() as session:
            return await session.scalar(
                select(Buyer.last_interaction_at).where(Buyer.openid == openid)
            )

    await wechat.send_text("oEarly", "你好")
    await wechat.send_text("oLater", "你好")
    clock.advance(minutes=5)
    received = clock.now()
    for openid in ("oEarly", "oLater"):  # as if the database had been down at that moment
        hook.spool.put(wechat.signer.text(openid, "会员")[1].decode())
    clock.advance(minutes=10)
    await wechat.send_text("oLater", "在吗")  # oLater wrote again before the replay
    later = clock.now()
    clock.advance(minutes=1)
    assert await hook.replay_spool() == 2
    assert await last_interaction("oEarly") == received  # not the replay's time
    assert await last_interaction("oLater") == later  # a newer interaction is not moved back
