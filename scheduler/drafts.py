"""Drafts after creation: edit a draft campaign, read a campaign back as the spec that makes
it, and duplicate a past campaign into a new draft.

``update_draft`` accepts the same validated specs as creation (``scheduler/campaigns.py``)
and replaces the draft's fields and steps in one go; anything but a draft is refused with
``CampaignError`` (the API answers 409). ``spec_of`` turns a stored campaign back into the
spec dict (times as wall-clock strings in the campaign time zone), which the console's edit
form and ``duplicate_campaign`` start from. This module sends nothing and never moves a
campaign out of draft.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from scheduler.campaigns import (
    CampaignSpecs,
    check_message,
    create_campaign,
    get_campaign,
    plan_campaign,
)
from scheduler.errors import CampaignError
from scheduler.messages import CampaignMessages
from scheduler.models import BROADCAST, DRAFT, LIVESTREAM, Campaign, CampaignStep

Spec = CampaignSpecs
COPY_SUFFIX = "（副本）"


async def update_draft(
    session: AsyncSession,
    campaign_id: int,
    spec: Spec | dict[str, Any],
    clock: Clock,
    *,
    tz: str = "Asia/Shanghai",
    messages: CampaignMessages | None = None,
) -> Campaign:
    """Replace a draft's description and steps; CampaignError unless it is still a draft."""
    campaign = await get_campaign(session, campaign_id)
    if campaign.status != DRAFT:
        raise CampaignError(
            f"campaign {campaign_id} is {campaign.status}: cannot edit (only a draft can)"
        )
    spec, params, steps = plan_campaign(spec, clock, tz)
    now = clock.now()
    candidate = Campaign(
        id=campaign.id,
        name=spec.name,
        kind=spec.kind,
        params=params,
        message_template=spec.message_template,
        message_source=spec.message_source,
        template_id=spec.template_id,
    )
    await check_message(candidate, steps, messages)
    campaign.name, campaign.kind, campaign.params = spec.name, spec.kind, params
    campaign.segment, campaign.segment_name = spec.segment, spec.segment_name
    campaign.all_day, campaign.template_id = spec.all_day, spec.template_id
    campaign.message_template = spec.message_template
    campaign.message_source = spec.message_source
    campaign.updated_at = now
    await session.execute(delete(CampaignStep).where(CampaignStep.campaign_id == campaign_id))
    for step in steps:
        step.campaign_id = campaign_id
        session.add(step)
    await session.flush()
    return campaign


def _local(iso: str | None, tz: ZoneInfo) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(tz).replace(tzinfo=None).isoformat()[:16]


def spec_of(campaign: Campaign, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """The spec that describes `campaign` now (times as wall-clock text in `tz`)."""
    zone, p = ZoneInfo(tz), campaign.params or {}
    spec: dict[str, Any] = {
        "kind": campaign.kind,
        "name": campaign.name,
        "segment": campaign.segment,
        "segment_name": campaign.segment_name,
        "all_day": campaign.all_day,
        "template_id": campaign.template_id,
        "message_template": campaign.message_template,
        "message_source": campaign.message_source,
    }
    if campaign.kind == LIVESTREAM:
        start, end = datetime.fromisoformat(p["start_at"]), datetime.fromisoformat(p["end_at"])
        spec |= {
            "title": p.get("title", ""),
            "start_at": _local(p["start_at"], zone),
            "link": p.get("link", ""),
            "offsets_s": list(p.get("offsets_s", [])),
            "duration_s": int((end - start).total_seconds()),
        }
    elif campaign.kind == BROADCAST:
        spec |= {"send_at": _local(p["send_at"], zone), "text": p.get("text", "")}
    else:
        spec |= {
            "title": p.get("title") or None,
            "window_start": _local(p["window_start"], zone),
            "window_end": _local(p["window_end"], zone),
            "waves": [_local(w, zone) for w in p.get("waves", [])],
            "dormant_days": p.get("dormant_days", 30),
        }
    return spec


TIME_FIELDS = ("start_at", "send_at", "window_start", "window_end")


def _shift(spec: dict[str, Any], days: int) -> dict[str, Any]:
    def move(value: str) -> str:
        return (datetime.fromisoformat(value) + timedelta(days=days)).isoformat()[:16]

    out = dict(spec)
    for key in TIME_FIELDS:
        if out.get(key):
            out[key] = move(out[key])
    if out.get("waves"):
        out["waves"] = [move(w) for w in out["waves"]]
    return out


def _first_deadline(spec: dict[str, Any]) -> str:
    """The time that must still be ahead for the spec to be valid."""
    return spec.get("start_at") or spec.get("send_at") or spec["waves"][0]


async def duplicate_campaign(
    session: AsyncSession,
    campaign_id: int,
    clock: Clock,
    *,
    tz: str = "Asia/Shanghai",
    messages: CampaignMessages | None = None,
) -> Campaign:
    """A new draft like `campaign_id`; times already past move forward by whole days (same
    time of day) until the first send is at least an hour ahead."""
    source = await get_campaign(session, campaign_id)
    spec = spec_of(source, tz)
    spec["name"] = (spec["name"][: 128 - len(COPY_SUFFIX)] + COPY_SUFFIX)[:128]
    zone = ZoneInfo(tz)
    ahead = clock.now().astimezone(zone).replace(tzinfo=None) + timedelta(hours=1)
    first = datetime.fromisoformat(_first_deadline(spec))
    if first < ahead:
        spec = _shift(spec, (ahead - first).days + 1)
    spec = {k: v for k, v in spec.items() if v is not None}
    return await create_campaign(session, spec, clock, tz=tz, messages=messages)
