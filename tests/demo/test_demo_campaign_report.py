"""The demo's finished campaign: one report with real outcomes, seeded once per database."""

from __future__ import annotations

from sqlalchemy import func, select

from demo.demo import DEMO_TIERS, seed_demo
from demo.demo_campaign_report import REPORT_NAME
from scheduler.models import Campaign
from scheduler.reports import campaign_report, report_is_balanced


async def test_the_demo_has_a_finished_campaign_with_a_report(sessions, make_config, clock):
    config = make_config(tiers={"levels": DEMO_TIERS})
    await seed_demo(sessions, config, clock)
    clock.advance(days=1)
    await seed_demo(sessions, config, clock)
    async with sessions() as session:
        ids = list(await session.scalars(select(Campaign.id).where(Campaign.name == REPORT_NAME)))
        assert len(ids) == 1
        report = await campaign_report(session, ids[0])
        done = await session.scalar(select(func.count()).where(Campaign.status == "done"))
    assert report["campaign"]["status"] == "done" and done >= 1
    assert report["recipients"] == 300 and report_is_balanced(report)
    assert report["sent"] > 200 and report["skipped"] > 20 and report["failed"] > 0
    assert report["outcomes"]["skipped"]["by_reason"].keys() == {"mass_quota", "cap_day"}
    assert report["outcomes"]["sent"]["by_channel"].keys() == {"custom", "mass"}
    mass = report["mass"]
    assert mass["calls"] == mass["finished"] == 1
    assert mass["recipients"] == report["outcomes"]["sent"]["by_channel"]["mass"]
    assert mass["sent"] + mass["filtered"] == mass["total"] == mass["recipients"]
    assert report["conversion"]["reached"] == report["sent"]
