"""Demo saved segments and two draft pushes for ``laoke demo``, so 分群 shows a library with
counts and 活动日历 shows two pushes to overlapping buyers on one day.

Listed in ``demo.demo.DEMO_SEEDERS``; deterministic (fixed names, skipped when present), and
the pushes stay drafts, so nothing is sent. Not used outside the demo.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from scheduler.campaigns import create_campaign
from scheduler.models import Campaign
from scheduler.saved_segments import Segment, create_segment
from scheduler.segments import SegmentError, Vocabulary


def demo_segments(config: Config) -> dict[str, tuple[str, dict]]:
    """Name → (description, spec) for the demo's saved segments."""
    levels = sorted(config.tiers.levels, key=lambda lv: -lv.rank)
    top = [{"field": "tier", "op": "eq", "value": levels[0].key}] if levels else []
    not_out = {"not": {"field": "opted_out", "op": "eq", "value": True}}
    return {
        "沉睡金卡": ("最高等级、30 天没有互动", {"all": [
            *top, {"field": "days_since_interaction", "op": "gte", "value": 30}, not_out]}),
        "广东老客": ("广东的回头客", {"all": [
            {"field": "region", "op": "eq", "value": "广东"},
            {"field": "customer", "op": "eq", "value": "returning"}]}),
        "女装老客": ("兴趣含女装、下过两单以上", {"all": [
            {"field": "interests", "op": "contains", "value": "女装"},
            {"field": "customer", "op": "eq", "value": "returning"}, not_out]}),
    }  # fmt: skip


async def seed_demo_segments(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """Save the demo segments and plan two draft broadcasts the day after tomorrow."""
    now = clock.now()
    vocabulary = Vocabulary.from_config(config)
    async with sessions() as session, session.begin():
        have = set(await session.scalars(select(Segment.name)))
        for name, (description, spec) in demo_segments(config).items():
            if name not in have:
                try:
                    await create_segment(
                        session, name, spec, now, description, vocabulary=vocabulary
                    )
                except SegmentError:  # a configuration without those tiers or interests
                    continue
        tz = ZoneInfo(config.campaigns.timezone)
        day = (now.astimezone(tz) + timedelta(days=2)).date()
        for name, segment, hour, text in [
            ("演示：秋装上新通知", "女装老客", 10, "秋装上新了，回复「看款」收图册。"),
            ("演示：金卡专属回馈", "沉睡金卡", 20, "金卡专属回馈：本周下单包邮。"),
        ]:
            if await session.scalar(select(Campaign.id).where(Campaign.name == name)):
                continue
            if not await session.scalar(select(Segment.id).where(Segment.name == segment)):
                continue
            send_at = datetime.combine(day, time(hour), tz).isoformat()
            spec = {"kind": "broadcast", "name": name, "segment_name": segment,
                    "send_at": send_at, "text": text}  # fmt: skip
            await create_campaign(session, spec, clock, tz=config.campaigns.timezone)
