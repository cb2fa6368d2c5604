"""The change feed on SQLite and PostgreSQL: two feeds (two serve processes) on one database
both report a conversation another process changed, once, and an unchanged poll reports
nothing; a listener gets the change within a second."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.clock import Clock
from bot.models import Buyer
from inbox.conversations import hand_over, mark_done
from inbox.live import ChangeFeed


async def test_two_processes_see_the_same_change_once(sessions):
    now = Clock().now()
    first, second = ChangeFeed(sessions, lambda: now), ChangeFeed(sessions, lambda: now)
    assert await first.poll() == [] and await second.poll() == []
    async with sessions() as session, session.begin():
        buyer = Buyer(openid="oLive", first_seen_at=now, last_interaction_at=now)
        session.add(buyer)
        await session.flush()
        conv_id = (await hand_over(session, buyer, "在吗", now, person=False)).conversation.id
    assert await first.poll() == [conv_id] and await second.poll() == [conv_id]
    assert await first.poll() == [] and await second.poll() == []  # unchanged: nothing
    async with sessions() as session, session.begin():
        await mark_done(session, conv_id, now + timedelta(seconds=1))
    assert await first.poll() == [conv_id]


async def test_a_listener_is_told_within_a_second(sessions):
    feed = ChangeFeed(sessions, lambda: Clock().now(), interval=0.1)
    queue = feed.listen()
    try:
        await asyncio.sleep(0.3)  # the baseline poll has run
        now = Clock().now()
        async with sessions() as session, session.begin():
            buyer = Buyer(openid="oListen", first_seen_at=now, last_interaction_at=now)
            session.add(buyer)
            await session.flush()
            conv = (await hand_over(session, buyer, "发货了吗", now, person=False)).conversation
        changed = await asyncio.wait_for(queue.get(), 1.0)
        assert changed == [conv.id]
    finally:
        feed.leave(queue)
        await feed.close()
