"""The campaign calendar's figures (scheduler/calendar.py) on SQLite and PostgreSQL: steps in
the view, each campaign's reach, overlaps between campaigns on one day, and buyers the
per-buyer caps would hold back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.models import Buyer
from scheduler.calendar import Caps, calendar
from scheduler.models import CANCELLED, SCHEDULED, STEP_DONE, Campaign, CampaignStep
from scheduler.saved_segments import Segment

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 1, tzinfo=UTC)
DAY = date(2026, 5, 18)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


async def seed(sessions) -> dict[str, int]:
    async with sessions.begin() as session:
        for i, (tier, opted_out) in enumerate(
            [("gold", False), ("gold", False), ("silver", False), (None, True)]
        ):
            session.add(
                Buyer(openid=f"o{i}", tier_key=tier, opted_out=opted_out, subscribed=True,
                      first_seen_at=NOW, tags=[], channels=[], interests=[])
            )  # fmt: skip
        session.add(
            Segment(name="金卡", description="", spec={"field": "tier", "op": "eq", "value": "gold"},
                    created_at=NOW, updated_at=NOW)
        )  # fmt: skip
        ids = {}
        for name, segment, segment_name, all_day, status, due in [
            ("银卡以上", {"field": "tier", "op": "in", "value": ["gold", "silver"]}, None, False,
             SCHEDULED, [at(DAY, 10), at(DAY + timedelta(days=1), 10)]),
            ("金卡专场", None, "金卡", False, SCHEDULED, [at(DAY, 20)]),
            ("5·18 全天", None, None, True, SCHEDULED, [at(DAY, 0)]),
            ("已取消", None, None, False, CANCELLED, [at(DAY, 9)]),
            ("下个月", None, None, False, SCHEDULED, [at(date(2026, 6, 2), 9)]),
        ]:  # fmt: skip
            campaign = Campaign(
                name=name, kind="broadcast", status=status, segment=segment,
                segment_name=segment_name, all_day=all_day, params={}, created_at=NOW,
                updated_at=NOW,
            )  # fmt: skip
            session.add(campaign)
            await session.flush()
            ids[name] = campaign.id
            for seq, due_at in enumerate(due):
                session.add(
                    CampaignStep(campaign_id=campaign.id, kind="broadcast", seq=seq, due_at=due_at)
                )
    return ids


async def test_steps_in_view_with_reach_overlaps_and_caps(sessions):
    ids = await seed(sessions)
    async with sessions() as session:
        cal = await calendar(session, date(2026, 5, 1), date(2026, 5, 31), BEIJING, Caps(1, 5), NOW)
    shown = [(s.campaign_name, s.day, s.estimate) for s in cal.steps]
    assert shown == [
        ("5·18 全天", DAY, 3),  # everyone reachable: the opted-out buyer is not
        ("银卡以上", DAY, 3),
        ("金卡专场", DAY, 2),
        ("银卡以上", DAY + timedelta(days=1), 3),
    ]  # cancelled campaigns and steps outside the view are left out
    note = cal.days[DAY]
    shared = {(o.first, o.second): o.shared for o in note.overlaps}
    assert shared == {
        ("银卡以上", "金卡专场"): 2, ("5·18 全天", "银卡以上"): 3, ("5·18 全天", "金卡专场"): 2,
    }  # fmt: skip
    # Two capped pushes that day (the all-day one is exempt), cap 1: both gold buyers are in both.
    assert (note.pushes, note.capped) == (2, 2)
    assert cal.days[DAY + timedelta(days=1)].capped == 0
    assert all(w.capped == 0 for w in cal.weeks.values())  # 2 campaigns a week, cap 5
    assert not cal.truncated
    assert ids["已取消"] not in {s.campaign_id for s in cal.steps}


async def test_week_cap_and_fanned_out_steps_show_real_recipients(sessions):
    await seed(sessions)
    async with sessions.begin() as session:
        step = await session.get(CampaignStep, 1)
        step.status, step.recipients = STEP_DONE, 7
    async with sessions() as session:
        cal = await calendar(
            session, date(2026, 5, 18), date(2026, 5, 24), BEIJING, Caps(0, 1), NOW
        )
    assert [s.estimate for s in cal.steps if s.id == 1] == [7]
    assert not any(d.capped for d in cal.days.values())  # no daily cap
    assert cal.weeks[date(2026, 5, 18)].capped == 2  # gold buyers: 2 capped campaigns, cap 1


async def test_a_missing_saved_segment_is_unknown_not_everyone(sessions):
    await seed(sessions)
    async with sessions.begin() as session:
        await session.delete(await session.get(Segment, 1))
    async with sessions() as session:
        cal = await calendar(session, DAY, DAY, BEIJING, Caps(1, 5), NOW)
    assert {s.campaign_name: s.estimate for s in cal.steps}["金卡专场"] is None
    assert len(cal.days[DAY].overlaps) == 1  # only the two known segments are compared
