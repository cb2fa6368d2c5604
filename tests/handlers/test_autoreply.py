"""The admin's auto-replies answering buyers through the real webhook: after the built-in
commands, before the handoff; saves (and rollbacks) reach the bot within 2 seconds."""

from __future__ import annotations

import asyncio

from bot.appkeys import DISPATCHER, METRICS, SERVICES
from content.autoreplies import parse_ruleset
from content.autoreply_store import current_version, save_ruleset
from content.autoreply_trial import shadowing_command, who_answers

RULES = {
    "rules": [
        {"id": "r1", "name": "地址", "keywords": [{"text": "地址", "mode": "contains"}],
         "replies": ["{称呼}您好，我们在义乌国际商贸城"]},
        {"id": "r2", "name": "会员", "keywords": [{"text": "会员", "mode": "exact"}],
         "replies": ["规则的会员回复"]},
    ],
    "default": {"enabled": True, "text": "已收到，稍后人工回复您"},
    "welcome": {"enabled": True, "text": "欢迎关注！"},
}  # fmt: skip


async def _save(wechat, data, clock):
    async with wechat.sessionmaker() as session, session.begin():
        return await save_ruleset(session, parse_ruleset(data), by="admin", note="", at=clock.now())


async def test_rules_answer_after_builtins_and_default_before_handoff(wechat, clock):
    await _save(wechat, RULES, clock)
    assert "义乌国际商贸城" in await wechat.send_text("oA", "你们地址在哪")
    tier_card = await wechat.send_text("oA", "会员")
    assert "规则的会员回复" not in tier_card  # the built-in tier card keeps 会员
    assert await wechat.send_text("oA", "随便说点什么吧") == "已收到，稍后人工回复您"
    assert await wechat.send_event("oNew", "subscribe") == "欢迎关注！"


async def test_a_save_and_a_rollback_reach_the_running_bot(wechat, clock):
    first = await _save(wechat, RULES, clock)
    assert "义乌" in await wechat.send_text("oB", "地址")
    changed = {**RULES, "rules": [{**RULES["rules"][0], "replies": ["搬到杭州了"]}]}
    await _save(wechat, changed, clock)
    await asyncio.sleep(1.2)  # the cache polls once a second
    assert await wechat.send_text("oB", "地址") == "搬到杭州了"
    await _save(wechat, first.ruleset.model_dump(), clock)  # what 回滚 stores
    await asyncio.sleep(1.2)
    assert "义乌" in await wechat.send_text("oB", "地址")
    async with wechat.sessionmaker() as session:
        assert (await current_version(session)).id == 3


async def test_try_it_and_shadow_warnings_follow_the_dispatcher(wechat, clock):
    await wechat.send_text("oWarm", "你好")  # starts the app's services
    dispatcher, services = wechat.app[DISPATCHER], wechat.app[SERVICES]
    rules = parse_ruleset(RULES)
    asked = who_answers(dispatcher, services, rules, "我是什么会员", clock.now())
    assert asked.label == "内置会员卡" and asked.before_rules
    assert who_answers(dispatcher, services, rules, "地址", clock.now()).rule_id == "r1"
    assert shadowing_command(dispatcher, services, "会员", clock.now()) == "内置会员卡"
    assert shadowing_command(dispatcher, services, "地址", clock.now()) is None


async def test_menu_click_for_a_person_hands_off(wechat):
    reply = await wechat.send_event("oC", "CLICK", key="HANDOFF")
    assert reply and reply == await wechat.send_text("oD", "转人工")


async def test_menu_button_for_a_keyword_rule_sends_its_reply_and_counts_a_hit(wechat, clock):
    from sqlalchemy import select

    from content.autoreply_store import AutoReplyHit

    await _save(wechat, RULES, clock)
    reply = await wechat.send_event("oE", "CLICK", key="rule:r1")
    assert "义乌国际商贸城" in reply
    assert await wechat.send_event("oE", "CLICK", key="rule:r404") is None  # nothing to say
    async with wechat.sessionmaker() as session:
        assert (await session.scalars(select(AutoReplyHit.rule_id))).all() == ["r1"]


async def test_a_hundred_catastrophic_patterns_leave_webhook_and_healthz_answering(wechat, clock):
    # (a+)+$ against "a"*499+"b" backtracks exponentially in a backtracking engine: with the
    # old per-pattern timeout on the event loop, 100 such rules froze the process for ~47 s.
    evil = {
        "rules": [
            {"id": f"r{i}", "name": f"规则{i}", "keywords": [{"text": "(a+)+$", "mode": "regex"}],
             "replies": ["不该出现"]}
            for i in range(1, 101)
        ],
        "default": {"enabled": True, "text": "已收到，稍后人工回复您"},
    }  # fmt: skip
    async with wechat.sessionmaker() as session, session.begin():
        await save_ruleset(session, parse_ruleset(evil), by="admin", note="", at=clock.now())
    await wechat.send_text("oWarm", "你好")  # loads the rule set into the per-process cache

    async def healthz() -> int:
        async with wechat.http.get("/healthz") as resp:
            return resp.status

    # Generous bounds: a blocked event loop would hold both for tens of seconds.
    reply, health = await asyncio.wait_for(
        asyncio.gather(wechat.send_text("oEvil", "a" * 499 + "b"), healthz()), timeout=10
    )
    assert reply == "已收到，稍后人工回复您"  # every rule was tried and none matched
    assert health == 200
    spent = wechat.app[METRICS].autoreply_budget_spent._value.get()
    assert spent == 0  # linear-time matching: the per-message budget was never needed
