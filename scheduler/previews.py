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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.dialog.context import Services
from bot.models import Buyer, UTCDateTime
from bot.sandbox import RenderError, render_off_loop
from bot.wechat.channels import WINDOW
from scheduler import reorder
from scheduler.campaigns import CampaignError, get_campaign, list_steps
from scheduler.messages import CampaignMessages
from scheduler.models import RECALL, REORDER, STEP_PENDING, Campaign

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
    if campaign.kind == REORDER:
        conditions += reorder.recipients()
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


# WeChat's limits a buyer would notice: a customer-service text over 2,048 bytes is refused;
# a long one folds behind 全文 on a phone; a template field shows only its first ~200 chars.
CUSTOM_TEXT_MAX_BYTES = 2048
LONG_TEXT_CHARS = 300
TEMPLATE_FIELD_CHARS = 200
SAMPLE_NAMES = {True: "王老板", False: "李姐"}


@dataclass(frozen=True)
class SampleBuyer:
    """A made-up buyer for a preview when the segment has none of a kind."""

    display_name: str | None
    tier_key: str | None
    company: str | None = "广州示例服饰"
    business_type: str | None = None
    province: str | None = "广东"
    city: str | None = "广州"
    interests: tuple[str, ...] = ("女装",)


def length_warnings(text: str) -> list[str]:
    """What WeChat does to a text this long (Chinese, for the operator)."""
    size = len(text.encode("utf-8"))
    if size > CUSTOM_TEXT_MAX_BYTES:
        return [
            f"超出客服消息上限：{size:,} 字节，微信最多 {CUSTOM_TEXT_MAX_BYTES:,} 字节，将发送失败"
        ]
    if len(text) > LONG_TEXT_CHARS:
        return [f"消息较长（{len(text):,} 字），手机上需要点开全文阅读"]
    return []


async def bubble_previews(
    session: AsyncSession, services: Services, campaign: Campaign, step: Any
) -> list[dict[str, Any]]:
    """The step as four buyers see it: the top tier and no tier, inside and outside the
    48-hour window (outside: the template card, or skipped without a template). A real
    recipient of each tier is used when the segment has one, else a made-up buyer."""
    now = services.clock.now()
    levels = sorted(services.config.tiers.levels, key=lambda t: t.rank)
    top = levels[-1] if levels else None
    where = await recipients(session, campaign, now)
    samples: list[tuple[str, Any]] = []
    for tier_key, label in ((top.key if top else None, top.name if top else "会员"),
                            (None, "无等级")):  # fmt: skip
        cond = Buyer.tier_key == tier_key if tier_key else Buyer.tier_key.is_(None)
        real = await session.scalar(select(Buyer).where(where, cond).order_by(Buyer.id).limit(1))
        samples.append((label, real or SampleBuyer(SAMPLE_NAMES[tier_key is not None], tier_key)))
    messages = CampaignMessages.from_services(services)

    def render_all() -> list[str]:
        return [messages.render(campaign, step, buyer) for _label, buyer in samples]

    try:
        texts = await render_off_loop(render_all)
    except RenderError as exc:
        field = "message_source" if campaign.message_source is not None else "message_template"
        raise CampaignError(f"{field}: {exc}") from None
    out = []
    for (label, buyer), text in zip(samples, texts, strict=True):
        name = buyer.display_name or "老朋友"
        out.append({"label": f"{label} · 窗口内", "buyer": name, "channel": "custom",
                    "text": text, "warnings": length_warnings(text)})  # fmt: skip
        if campaign.template_id:
            data, url = messages.template_data(campaign, text)
            content = data["content"]["value"]
            warn = ([f"模板字段超过 {TEMPLATE_FIELD_CHARS} 字，微信会截断"]
                    if len(content) > TEMPLATE_FIELD_CHARS else [])  # fmt: skip
            out.append({"label": f"{label} · 窗口外", "buyer": name, "channel": "template",
                        "template_id": campaign.template_id, "fields": data, "url": url,
                        "text": content, "warnings": warn})  # fmt: skip
        else:
            out.append({"label": f"{label} · 窗口外", "buyer": name, "channel": "skip",
                        "text": "", "warnings": []})  # fmt: skip
    return out
