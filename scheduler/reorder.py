"""The standing 补货提醒 campaign (kind ``reorder``): each day, message the buyers who have
just become due to reorder — once per cycle — naming what they bought last.

A reorder campaign has one pending ``daily`` step at a time, due at ``send_time`` (local);
when the loop handles it (fanned out or missed) the next day's step is added in the same
transaction, so the campaign runs until it is cancelled. Its recipients are the segment's
buyers whose ``reorder_state`` is ``due`` and who were not reminded for their current last
order (``reorder_reminded_for``); the fan-out marks them, so a buyer gets one reminder per
cycle and a new one only after they order again. Caps, quiet hours, opt-outs and the
channel rule apply as to every campaign (``scheduler/delivery.py``).

The states themselves are computed by ``insights/rhythm_store.py`` (refreshed hourly beside
the scheduler); this module only reads them from the buyer rows.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import REORDER_DUE, Buyer
from scheduler.models import DAILY, STEP_PENDING, Campaign, CampaignStep, Delivery

DEFAULT_SEND_TIME = time(10, 0)


def next_send(after: datetime, send_time: time, tz: ZoneInfo) -> datetime:
    """The first `send_time` (local wall clock) strictly after `after`."""
    local = after.astimezone(tz)
    candidate = datetime.combine(local.date(), send_time, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), send_time, tzinfo=tz)
    return candidate


def plan_reorder(send_time: time, now: datetime, tz: ZoneInfo) -> tuple[dict, list[CampaignStep]]:
    """The campaign's params and its first daily step (the next `send_time`)."""
    first = next_send(now, send_time, tz)
    return {"send_time": send_time.strftime("%H:%M")}, [CampaignStep(kind=DAILY, due_at=first)]


def send_time_of(campaign: Campaign) -> time:
    raw = (campaign.params or {}).get("send_time")
    return time.fromisoformat(raw) if raw else DEFAULT_SEND_TIME


def recipients() -> list[ColumnElement[bool]]:
    """Buyers due to reorder who were not reminded for their current last order."""
    return [
        Buyer.reorder_state == REORDER_DUE,
        or_(
            Buyer.reorder_reminded_for.is_(None),
            Buyer.reorder_reminded_for < Buyer.last_order_at,
        ),
    ]


async def mark_reminded(session: AsyncSession, step: CampaignStep) -> None:
    """The step's recipients are reminded for this cycle (their current last order)."""
    await session.execute(
        update(Buyer)
        .where(Buyer.id.in_(select(Delivery.buyer_id).where(Delivery.step_id == step.id)))
        .values(reorder_reminded_for=Buyer.last_order_at)
        .execution_options(synchronize_session=False)
    )


def next_step(campaign: Campaign, step: CampaignStep, now: datetime, tz: ZoneInfo) -> CampaignStep:
    """Tomorrow's step (the next send time after both the handled step and now)."""
    after = max(step.due_at, now)
    return CampaignStep(
        campaign_id=campaign.id,
        kind=DAILY,
        seq=step.seq + 1,
        due_at=next_send(after, send_time_of(campaign), tz),
        status=STEP_PENDING,
        recipients=0,
    )
