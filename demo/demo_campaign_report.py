"""A finished demo campaign for ``laoke demo``, so 营销 → 活动 shows a report with results.

Listed in ``demo.demo.DEMO_SEEDERS`` after the buyers. Once per database it records a
broadcast sent a week ago to up to 300 demo buyers, with deterministic outcomes (most sent
by customer-service message, dormant buyers by one mass send — with WeChat's
MASSSENDJOBFINISH counts — a few of them skipped because their month's mass sends were used,
some by the daily cap, a few failed), so the report, its funnel (replies and orders the demo history already has) and
the recipients list and CSV have something real to show. Not used outside the demo.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from bot.wechat.mass import client_msg_id
from scheduler.campaigns import create_campaign, list_steps
from scheduler.models import (
    DONE,
    FAILED,
    MASS,
    MASS_SENT,
    SENT,
    SKIPPED,
    STEP_DONE,
    Campaign,
    Delivery,
    MassSend,
)

REPORT_NAME = "演示：上周上新通知"
RECIPIENTS = 300


def _outcome(i: int) -> tuple[str, str | None, str | None]:
    """status, reason, channel for the i-th recipient (fixed, so every demo looks the same)."""
    if i % 30 == 7:
        return SKIPPED, "mass_quota", None
    if i % 10 == 7:
        return SENT, None, "mass"
    if i % 25 == 3:
        return SKIPPED, "cap_day", None
    if i % 50 == 11:
        return FAILED, "errcode", None
    return SENT, None, "custom"


async def seed_demo_campaign_report(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    now = clock.now()
    sent_at = now - timedelta(days=7)
    async with sessions() as session, session.begin():
        if await session.scalar(select(Campaign.id).where(Campaign.name == REPORT_NAME)):
            return
        spec = {"kind": "broadcast", "name": REPORT_NAME, "text": "春款新品到货，欢迎回复「新品」看款式",
                "send_at": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
        campaign = await create_campaign(session, spec, clock, tz=config.campaigns.timezone)
        step = (await list_steps(session, campaign.id))[0]
        buyers = list(await session.execute(
            select(Buyer.id, Buyer.openid).order_by(Buyer.id).limit(RECIPIENTS)))  # fmt: skip
        outcomes = [_outcome(i) for i in range(len(buyers))]
        mass_count = sum(1 for _, _, channel in outcomes if channel == MASS)
        mass = MassSend(campaign_id=campaign.id, step_id=step.id, batch=1,
                        client_msg_id=client_msg_id(campaign.id, step.id, 1),
                        msg_id="1000000001", status=MASS_SENT, recipients=mass_count,
                        text=spec["text"], created_at=sent_at, finish_status="send success",
                        total_count=mass_count, filter_count=2, sent_count=mass_count - 2,
                        error_count=0, finished_at=sent_at + timedelta(minutes=2))  # fmt: skip
        session.add(mass)
        await session.flush()
        for (buyer_id, openid), (status, reason, channel) in zip(buyers, outcomes, strict=True):
            session.add(Delivery(step_id=step.id, campaign_id=campaign.id, buyer_id=buyer_id,
                                 openid=openid, status=status, reason=reason, channel=channel,
                                 errcode=45047 if status == FAILED else None, attempts=1,
                                 sent_at=sent_at if status == SENT else None,
                                 mass_send_id=mass.id if channel == MASS else None,
                                 created_at=sent_at))  # fmt: skip
        step.due_at, step.fanned_out_at, step.finished_at = sent_at, sent_at, sent_at
        step.status, step.recipients = STEP_DONE, len(buyers)
        campaign.params = {**campaign.params, "send_at": sent_at.isoformat()}
        campaign.status, campaign.scheduled_at = DONE, sent_at - timedelta(hours=1)
        campaign.created_at = campaign.updated_at = sent_at - timedelta(hours=2)
        campaign.finished_at = sent_at + timedelta(minutes=3)
