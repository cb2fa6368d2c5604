"""The rule-set store on SQLite and PostgreSQL: versions, hits per rule, the unmatched texts,
and the cache picking up a new version."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.models import InboundMessage
from content.autoreplies import parse_ruleset
from content.autoreply_store import (
    RuleCache,
    history,
    hits_since,
    record_hit,
    save_ruleset,
    unmatched_messages,
)
from content.menu import PUBLISHED, SUGGESTED, latest_menu, save_menu

RULE = {"id": "r1", "name": "地址", "keywords": [{"text": "地址"}], "replies": ["义乌"]}


async def test_versions_hits_and_unmatched(sessions, clock):
    now = clock.now()
    async with sessions() as session, session.begin():
        await save_ruleset(session, parse_ruleset({"rules": [RULE]}), by="a", note="v1", at=now)
        await save_ruleset(session, parse_ruleset({}), by="b", note="清空", at=now)
        await record_hit(session, "r1", now - timedelta(days=1))
        await record_hit(session, "r1", now - timedelta(days=9))  # outside the week
        for i, text in enumerate(["有现货吗", "有现货吗", " 有现货吗 ", "好的", "x" * 40]):
            session.add(InboundMessage(dedup_key=f"k{i}", openid="o", msg_type="text",
                                       content=text, received_at=now - timedelta(hours=i),
                                       status="done", handler="fallback"))  # fmt: skip
        session.add(InboundMessage(dedup_key="k9", openid="o", msg_type="text", content="会员",
                                   received_at=now, status="done",
                                   handler="membership.tier_card"))  # fmt: skip
    async with sessions() as session:
        assert [(v.id, v.note) for v in await history(session)] == [(2, "清空"), (1, "v1")]
        assert await hits_since(session, now - timedelta(days=7)) == {"r1": 1}
        assert await unmatched_messages(session, now) == [("有现货吗", 3), ("好的", 1)]


async def test_cache_reloads_when_a_new_version_appears(sessions, clock):
    cache = RuleCache(poll_s=0.05)
    async with sessions() as session:
        assert (await cache.get(session)).match("地址", clock.now()) is None
    async with sessions() as session, session.begin():
        await save_ruleset(
            session, parse_ruleset({"rules": [RULE]}), by="a", note="", at=clock.now()
        )
    await asyncio.sleep(0.1)
    async with sessions() as session:
        assert (await cache.get(session)).match("地址", clock.now()).id == "r1"


async def test_menu_versions_keep_who_published(sessions, clock):
    async with sessions() as session, session.begin():
        await save_menu(session, SUGGESTED, PUBLISHED, by="张三", at=clock.now())
    async with sessions() as session:
        found = await latest_menu(session, PUBLISHED)
    assert found.created_by == "张三" and found.buttons[2]["sub_button"][1]["key"] == "HANDOFF"
