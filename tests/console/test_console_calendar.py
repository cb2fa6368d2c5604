"""营销 → 活动日历 (console/pages/calendar.py) through the app: steps by Beijing day with their
reach, collisions highlighted, month and week views, and any date a caller sends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.models import Buyer
from scheduler.models import DRAFT, SCHEDULED, Campaign, CampaignStep


async def seed(console) -> None:
    now = console.clock.now()
    async with console.sessionmaker.begin() as session:
        for i in range(3):
            session.add(
                Buyer(openid=f"o{i}", tier_key="gold" if i else None, subscribed=True,
                      first_seen_at=now, tags=[], channels=[], interests=[])
            )  # fmt: skip
        # 16:30 UTC is 00:30 the next day in Beijing: the step belongs to that day.
        due = (now + timedelta(days=2)).replace(hour=16, minute=30, second=0, microsecond=0)
        for name, status, segment in [
            ("新品直播", SCHEDULED, {"field": "tier", "op": "eq", "value": "gold"}),
            ("粉丝召回", DRAFT, None),
        ]:
            campaign = Campaign(name=name, kind="broadcast", status=status, segment=segment,
                                params={}, created_at=now, updated_at=now)  # fmt: skip
            session.add(campaign)
            await session.flush()
            session.add(CampaignStep(campaign_id=campaign.id, kind="broadcast", due_at=due))


async def test_viewer_sees_steps_on_their_beijing_day_with_the_overlap(console):
    await seed(console)
    headers = await console.login_as("viewer")
    due_day = (console.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d")
    resp = await console.client.get(
        f"/admin/campaigns/calendar?view=week&date={due_day}", headers=headers
    )
    html = await resp.text()
    assert resp.status == 200
    cell = html.split(f'data-day="{due_day}"')[1].split("</td>")[0]
    assert "00:30 新品直播 · 群发" in cell and "约 2 人" in cell and "全部买家" in cell
    assert "「新品直播」与「粉丝召回」重叠 2 人" in cell
    assert "clash" in html.split(f'data-day="{due_day}"')[0].rsplit("<td", 1)[1]  # highlighted


@pytest.mark.parametrize(
    "query", ["date=garbage", "date=9999-01-01", "view=year&date=2026-02-30", ""]
)
async def test_any_date_renders_a_month(console, query):
    headers = await console.login_as("viewer")
    resp = await console.client.get(f"/admin/campaigns/calendar?{query}", headers=headers)
    assert resp.status == 200
    html = await resp.text()
    assert "周一" in html and ("没有排定的推送" in html)


async def test_signed_out_visitors_are_sent_to_sign_in(console):
    resp = await console.client.get("/admin/campaigns/calendar", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/admin/login")
