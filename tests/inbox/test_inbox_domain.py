"""The inbox's rules on SQLite and PostgreSQL: a handoff queues the buyer and is acknowledged
once per conversation, waiting ends only by a staff reply or 标为已处理, the window's quota
counts campaign pushes, and the dashboard figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import InboxConfig
from bot.models import Buyer, OutboundMessage
from inbox import figures, hours
from inbox.conversations import (
    append_if_open,
    assign,
    hand_over,
    mark_done,
    record_staff_reply,
)
from inbox.models import DONE, WAITING, Conversation
from inbox.queries import list_conversations, thread
from inbox.quick import fill, unfilled
from inbox.replies import window_of

NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


async def _buyer(session, openid: str, name: str | None = None, *, at=NOW) -> Buyer:
    buyer = Buyer(openid=openid, first_seen_at=at, last_interaction_at=at, display_name=name)
    session.add(buyer)
    await session.flush()
    return buyer


async def test_a_conversation_is_acknowledged_once_and_reopened_as_a_new_episode(sessions):
    async with sessions() as session, session.begin():
        buyer = await _buyer(session, "oAck")
        first = await hand_over(session, buyer, "发货了吗", NOW, person=False)
        second = await hand_over(session, buyer, "在吗", NOW + timedelta(minutes=1), person=True)
        assert (first.acknowledge, second.acknowledge) == (True, False)
        conv = second.conversation
        assert conv.waiting_since == NOW and conv.requested_person
        await mark_done(session, conv.id, NOW + timedelta(minutes=5))
        assert conv.status == DONE and conv.waiting_since is None
        again = await hand_over(
            session, buyer, "还有个问题", NOW + timedelta(hours=1), person=False
        )
        assert again.acknowledge and again.conversation.id == conv.id
        assert again.conversation.waiting_since == NOW + timedelta(hours=1)


async def test_waiting_is_cleared_only_by_a_staff_reply(sessions):
    async with sessions() as session, session.begin():
        buyer = await _buyer(session, "oWait")
        conv = (await hand_over(session, buyer, "多少钱起批", NOW, person=False)).conversation
        # The bot answering a later message, and a reassignment, leave the buyer waiting.
        assert await append_if_open(session, buyer, "谢谢", "不客气", NOW + timedelta(minutes=1))
        await assign(session, conv.id, 7, NOW + timedelta(minutes=2))
        assert conv.waiting_since == NOW and conv.status == WAITING
        reply = await record_staff_reply(
            session, conv.id, staff_id=3, staff_name="小张", content="50 件起批",
            msgtype="text", outbound_id=None, now=NOW + timedelta(minutes=12),
        )  # fmt: skip
        assert conv.waiting_since is None and reply.response_s == 720
        assert conv.assigned_to == 7  # already assigned: the reply does not take it over
    async with sessions() as session:
        found = await thread(session, conv.id)
        assert [e.author for e in found.entries] == ["buyer", "buyer", "bot", "staff"]


async def test_a_buyer_without_a_conversation_is_not_recorded(sessions):
    async with sessions() as session, session.begin():
        buyer = await _buyer(session, "oNone")
        assert not await append_if_open(session, buyer, "会员", "您是…", NOW)
        assert await session.get(Conversation, 1) is None


async def test_the_quota_counts_campaign_pushes_in_the_window(sessions):
    async with sessions() as session, session.begin():
        buyer = await _buyer(session, "oQuota", at=NOW - timedelta(hours=1))
        for minutes, purpose in ((-90, "campaign"), (10, "campaign"), (20, "staff_reply")):
            session.add(
                OutboundMessage(
                    openid="oQuota",
                    channel="custom",
                    purpose=purpose,
                    content="x",
                    created_at=NOW + timedelta(minutes=minutes),
                    result="ok",
                )  # fmt: skip
            )
        await session.flush()
        window = await window_of(session, buyer, NOW + timedelta(hours=1))
        # The push before the buyer's last interaction belongs to an older window.
        assert (window.open, window.used, window.left) == (True, 2, 3)
        assert window.remaining == timedelta(hours=46)
        closed = await window_of(session, buyer, NOW + timedelta(hours=48))
        assert not closed.open and not closed.can_send


async def test_the_list_pins_requests_for_a_person_then_oldest_waiting_first(sessions):
    async with sessions() as session, session.begin():
        old = await _buyer(session, "oOld", "老王")
        new = await _buyer(session, "oNew", "小李")
        person = await _buyer(session, "oPerson", "阿芳")
        await hand_over(session, old, "有新款吗", NOW, person=False)
        await hand_over(session, new, "能开票吗", NOW + timedelta(minutes=5), person=False)
        await hand_over(session, person, "人工", NOW + timedelta(minutes=9), person=True)
        # The oldest writes again: still first among the waiting, it does not move.
        await hand_over(session, old, "在吗", NOW + timedelta(minutes=10), person=False)
        rows = await list_conversations(session, "waiting", 1, NOW + timedelta(minutes=11))
        assert [r.name for r in rows] == ["阿芳", "老王", "小李"]
        found = await list_conversations(session, "all", 1, NOW, q="开票")
        assert [r.name for r in found] == ["小李"]


async def test_dashboard_figures(sessions):
    async with sessions() as session, session.begin():
        for i, wait in enumerate((60, 300, 900)):
            buyer = await _buyer(session, f"oFig{i}")
            conv = (await hand_over(session, buyer, "问", NOW, person=False)).conversation
            await record_staff_reply(
                session, conv.id, staff_id=1, staff_name="小张" if i else "老板",
                content="答", msgtype="text", outbound_id=None,
                now=NOW + timedelta(seconds=wait),
            )  # fmt: skip
        waiting = await _buyer(session, "oFigWait")
        await hand_over(session, waiting, "问", NOW, person=False)
        lo, hi = NOW, NOW + timedelta(days=1)
        assert await figures.unanswered_now(session) == 1
        assert await figures.median_first_response_s(session, lo, hi) == 300
        assert await figures.replies_per_staff(session, lo, hi) == [("小张", 2), ("老板", 1)]
        assert await figures.median_first_response_s(session, hi, hi + timedelta(days=1)) is None


@pytest.mark.parametrize(
    ("utc", "open_", "words"),
    [
        (datetime(2026, 5, 18, 2, 0, tzinfo=UTC), True, None),  # Mon 10:00
        (datetime(2026, 5, 18, 12, 0, tzinfo=UTC), False, "明天 09:00"),  # Mon 20:00
        (datetime(2026, 5, 17, 23, 0, tzinfo=UTC), False, "今天 09:00"),  # Mon 07:00
        (datetime(2026, 5, 23, 11, 0, tzinfo=UTC), False, "周一 09:00"),  # Sat 19:00
    ],
)
def test_business_hours_in_the_accounts_zone(utc, open_, words):
    config = InboxConfig(business_days=[1, 2, 3, 4, 5])
    assert hours.is_open(config, utc) is open_
    if words:
        assert hours.when_words(config, utc) == words


@pytest.mark.parametrize("bad", ["9-18", "18:00-09:00", "09:00-25:00", "09:61-18:00"])
def test_business_hours_that_cannot_work_are_refused(make_config, bad):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="inbox.business_hours"):
        make_config(inbox={"business_hours": bad})


def test_quick_reply_placeholders():
    text = fill("{称呼}您好，您是{等级}", name="王姐", tier=None)
    assert text == "王姐您好，您是{等级}" and unfilled(text) == ["{等级}"]
