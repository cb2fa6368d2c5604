"""What an operator is shown before a campaign sends: its message rendered for sample buyers,
and how many recipients it can reach, and how.

WeChat lets an account write to a buyer by customer-service message only within 48 hours of
the buyer's last action; outside it only a template message (``template_id``) gets through. A
recall's audience is by definition dormant, so without a template most of it is unreachable:
``campaign_reach`` counts the audience of the campaign's next step now (customer-service,
template, unreachable) and ``reach_warnings`` says so in words. Creation, preview and
scheduling answer with both (API and CLI).

The counts are taken now: windows opening or closing before the step is due change them. This
module sends nothing and changes nothing (the sender decides per row, ``scheduler/sender.py``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.dialog.context import Services
from bot.models import Buyer, UTCDateTime
from bot.sandbox import RenderError, render_off_loop
from bot.wechat.channels import WINDOW
from scheduler.campaigns import CampaignError, get_campaign, list_steps
from scheduler.messages import CampaignMessages
from scheduler.models import RECALL, STEP_PENDING, Campaign

PREVIEW_TIME_S = 3.0  # all sample buyers of one preview together (each render: 1 s at most)


async def recipients(session: AsyncSession, campaign: Campaign, now: datetime) -> ColumnElement:
    """Buyers the campaign's next step would write to (as fan-out selects them)."""
    from scheduler.loop import segment_condition

    conditions = [
        await segment_condition(session, campaign, now),
        Buyer.subscribed.is_(True),
        Buyer.opted_out.is_(False),
    ]
    if campaign.kind == RECALL:
        dormant_since = now - timedelta(days=int(campaign.params.get("dormant_days", 0)))
        last_seen = func.coalesce(Buyer.last_interaction_at, Buyer.first_seen_at)
        conditions.append(last_seen <= literal(dormant_since, UTCDateTime()))
    return and_(*conditions)


async def campaign_reach(session: AsyncSession, campaign: Campaign, now: datetime) -> dict:
    """How many recipients the next step has now, and by which channel they can be reached."""
    in_window = Buyer.last_interaction_at > now - WINDOW  # as the sender decides
    total, window = (
        await session.execute(
            select(func.count(), func.count().filter(in_window))
            .select_from(Buyer)
            .where(await recipients(session, campaign, now))
        )
    ).one()
    total, window = int(total), int(window or 0)
    outside = total - window
    return {
        "recipients": total,
        "customer_service": window,
        "template": outside if campaign.template_id else 0,
        "unreachable": 0 if campaign.template_id else outside,
    }


def reach_warnings(reach: dict[str, int]) -> list[str]:
    """What the operator should know before sending (empty when everyone can be reached)."""
    total, unreachable = reach["recipients"], reach["unreachable"]
    if total == 0:
        return ["no buyer can receive this campaign now (the audience is empty)"]
    if not unreachable:
        return []
    return [
        f"{unreachable:,} of {total:,} recipients are outside WeChat's 48-hour window and the "
        f"campaign has no template_id: they will be skipped; {reach['customer_service']:,} "
        "can be reached by customer-service message. Set template_id to reach the others."
    ]


async def reach_report(session: AsyncSession, campaign: Campaign, now: datetime) -> dict:
    """``{"reach": {...}, "warnings": [...]}`` for an API answer or the CLI."""
    reach = await campaign_reach(session, campaign, now)
    return {"reach": reach, "warnings": reach_warnings(reach)}


async def preview_campaign(
    session: AsyncSession, services: Services, campaign_id: int, sample: int = 5
) -> dict[str, Any]:
    """The campaign's next message rendered for up to `sample` of its recipients, with its
    reach and warnings. Renders run in a worker thread (an operator may preview at will)."""
    campaign = await get_campaign(session, campaign_id)
    steps = await list_steps(session, campaign_id)
    step = next((s for s in steps if s.status == STEP_PENDING), steps[0])
    now = services.clock.now()
    buyers = list(
        await session.scalars(
            select(Buyer)
            .where(await recipients(session, campaign, now))
            .order_by(Buyer.id)
            .limit(sample)
        )
    )
    messages = CampaignMessages.from_services(services)

    def render_all() -> list[str]:
        deadline, texts = time.monotonic() + PREVIEW_TIME_S, []
        for b in buyers:
            if time.monotonic() > deadline:
                raise RenderError(f"rendering the preview took longer than {PREVIEW_TIME_S:g} s")
            texts.append(messages.render(campaign, step, b))
        return texts

    try:
        texts = await render_off_loop(render_all)
    except RenderError as exc:
        field = "message_source" if campaign.message_source is not None else "message_template"
        raise CampaignError(f"{field}: {exc}") from None
    return {
        "messages": [
            {"buyer_id": b.id, "openid": b.openid, "step": step.kind, "text": text}
            for b, text in zip(buyers, texts, strict=True)
        ],
        **await reach_report(session, campaign, now),
    }
