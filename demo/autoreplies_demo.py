"""Demo auto-replies and menu for ``laoke demo``: a few keyword rules a wholesale supplier
would write (发货时间, 报价 during office hours, 样品, an order-number pattern), the week's
hits, the 收到消息回复, and the suggested menu as a draft. Idempotent: seeded only when no
rule set exists yet. Hits are spread deterministically over the last 7 days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from content.autoreplies import parse_ruleset
from content.autoreply_store import current_version, record_hit, save_ruleset
from content.menu import DRAFT, SUGGESTED, latest_menu, save_menu

DEMO_RULES = {
    "rules": [
        # "几天发货", not "发货": 发货了吗 asks about the buyer's own order, which a person answers.
        {"id": "r1", "name": "发货时间", "keywords": [{"text": "几天发货", "mode": "contains"},
                                                  {"text": "几天到", "mode": "contains"}],
         "replies": ["{称呼}您好，现货 48 小时内发货，定制款 7–15 天，物流单号会在发货后推送给您。"]},
        {"id": "r2", "name": "报价", "keywords": [{"text": "报价", "mode": "contains"},
                                              {"text": "价格表", "mode": "contains"}],
         "replies": ["最新批发价格表请看菜单「会员」里的权益说明，或留下需求，业务员 30 分钟内联系您。",
                     "您好，报价会按采购量阶梯计算，留下款号和数量，业务员马上为您核价。"],
         "reply_mode": "random", "hours": "09:00-18:00"},
        {"id": "r3", "name": "样品", "keywords": [{"text": "样品", "mode": "contains"}],
         "replies": ["样品可以寄，运费到付，下单后样品费全额抵扣。"], "priority": 5},
        {"id": "r4", "name": "查单号", "keywords": [{"text": r"单号\s*\d{8,}", "mode": "regex"}],
         "replies": ["收到单号，正在帮您查询物流，稍后人工回复您。"]},
    ],
    "default": {"enabled": False, "text": ""},
}  # fmt: skip
HITS = {"r1": 23, "r2": 9, "r3": 4, "r4": 2}


async def seed_demo_autoreplies(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        if await current_version(session) is None:
            await save_ruleset(session, parse_ruleset(DEMO_RULES), by="demo-admin",
                               note="演示规则", at=now - timedelta(days=8))  # fmt: skip
            for rule_id, count in HITS.items():
                for i in range(count):
                    await record_hit(session, rule_id, now - timedelta(hours=(i * 7) % 160 + 1))
        if await latest_menu(session) is None:
            await save_menu(session, SUGGESTED, DRAFT, by="demo-admin", at=now - timedelta(days=8))
