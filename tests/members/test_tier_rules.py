"""The ladder edited in the console, on SQLite and PostgreSQL: validation with a message
naming the tier, the preview of moves, and the stored ladder overriding ``[tiers]`` wherever
a ladder is built (the recompute, a manual tier)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import TiersConfig
from bot.models import Buyer
from members.tier_rules import TierRuleError, parse_levels, parse_money, preview_moves, save_levels
from members.tiers import current_ladder, current_tiers

CONFIG = TiersConfig.model_validate({"levels": [
    {"key": "silver", "name": "银卡", "rank": 1, "min_spend": 5000, "grace_days": 30},
    {"key": "gold", "name": "金卡", "rank": 2, "min_spend": 20000, "grace_days": 0},
]})  # fmt: skip


def row(key, name, rank, spend="", orders="", grace="0"):
    return {"key": key, "name": name, "rank": rank, "min_spend": spend, "min_orders": orders,
            "perks": "包邮，专属客服", "badge": "", "grace_days": grace}  # fmt: skip


def test_money_accepts_wan_and_yuan_signs():
    assert parse_money("2万") == 20000 and parse_money("¥1,500.5") == 1500.5
    assert parse_money("3w") == 30000 and parse_money("") is None
    with pytest.raises(ValueError):
        parse_money("abc")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "至少"),
        ([row("Gold!", "金卡", "1")], "标识"),
        ([row("gold", "", "1")], "名称"),
        ([row("gold", "金卡", "1", spend="很多")], "采购金额"),
        ([row("gold", "金卡", "1", grace="400")], "宽限期"),
        ([row("a", "甲", "1"), row("a", "乙", "2")], "重复"),
        ([row("a", "甲", "1", spend="9000"), row("b", "乙", "2", spend="5000")], "低于"),
    ],
)
def test_invalid_ladders_are_refused_with_the_reason(rows, message):
    with pytest.raises(TierRuleError, match=message):
        parse_levels(rows)


async def test_preview_counts_moves_and_saving_overrides_config(sessions):
    now = datetime(2026, 5, 18, tzinfo=UTC)
    async with sessions() as session, session.begin():
        for i, (spend, tier, manual) in enumerate([
            (12000.0, "silver", None), (25000.0, "gold", None), (6000.0, "silver", None),
            (100.0, None, None), (30000.0, "silver", "silver"),
        ]):  # fmt: skip
            session.add(Buyer(openid=f"b{i}", first_seen_at=now, spend_12m=spend,
                              tier_key=tier, tier_manual_key=manual))  # fmt: skip
    edited = parse_levels([row("silver", "银卡", "1", "8000", grace="30"),
                           row("gold", "金卡", "2", "1万")])  # fmt: skip
    async with sessions() as session:
        moves = await preview_moves(session, CONFIG, edited)
        # 12000 → gold (up); 25000 stays gold; 6000 drops below silver (grace);
        # 100 stays untiered; the manual buyer is left out.
        assert (moves.upgrades, moves.grace, moves.downgrades, moves.unchanged) == (1, 1, 0, 2)
        assert (await current_tiers(session, CONFIG)) is CONFIG
    async with sessions() as session, session.begin():
        before, after = await save_levels(session, CONFIG, edited, "boss", now)
    assert before[1]["min_spend"] == 20000 and after[1]["min_spend"] == 10000
    async with sessions() as session:
        ladder = await current_ladder(session, CONFIG)
    assert ladder.get("gold").min_spend == 10000 and ladder.get("silver").perks == [
        "包邮",
        "专属客服",
    ]
    assert ladder.config.window_months == CONFIG.window_months


async def test_a_manual_tier_may_use_a_level_only_the_stored_ladder_has(
    sessions, make_config, clock
):
    from bot.dialog.context import Services
    from bot.dialog.rendering import Renderer
    from bot.metrics import Metrics
    from members.tiers import TierError, set_manual_tier

    services = Services(make_config(tiers=CONFIG.model_dump()), Renderer(), None, clock, Metrics())
    levels = parse_levels([row("silver", "银卡", "1", "5000"), row("vip", "至尊", "3", "10万")])
    async with sessions() as session, session.begin():
        buyer = Buyer(openid="m1", first_seen_at=clock.now())
        session.add(buyer)
        await session.flush()
        with pytest.raises(TierError):  # not configured, not stored yet
            await set_manual_tier(session, buyer, "vip", reason="r", until=None, services=services)
    async with sessions() as session, session.begin():
        await save_levels(session, CONFIG, levels, "boss", clock.now())
    async with sessions() as session, session.begin():
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "m1"))
        change = await set_manual_tier(
            session, buyer, "vip", reason="大客户", until=None, services=services
        )
    assert change.to_key == "vip"
