"""The demo's saved segments and draft pushes (demo/segments_demo.py): saved once, valid for
the configured tiers and interests, and the calendar sees both pushes on one day."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from tiers_fixture import GOLD, SILVER

from demo.segments_demo import seed_demo_segments
from scheduler.calendar import Caps, calendar
from scheduler.models import DRAFT, Campaign
from scheduler.saved_segments import Segment


async def test_demo_segments_and_pushes_are_seeded_once(sessions, make_config, clock):
    config = make_config(tiers={"levels": [SILVER, GOLD]})
    await seed_demo_segments(sessions, config, clock)
    await seed_demo_segments(sessions, config, clock)  # a second start adds nothing
    async with sessions() as session:
        names = list(await session.scalars(select(Segment.name).order_by(Segment.name)))
        campaigns = list(await session.scalars(select(Campaign)))
        tz = ZoneInfo("Asia/Shanghai")
        day = (clock.now().astimezone(tz) + timedelta(days=2)).date()
        cal = await calendar(session, day, day, tz, Caps(2, 5), clock.now())
    assert sorted(names) == sorted(["沉睡金卡", "广东老客", "女装老客"])
    assert {c.status for c in campaigns} == {DRAFT} and len(campaigns) == 2
    assert {s.segment for s in cal.steps} == {"女装老客", "沉睡金卡"}
