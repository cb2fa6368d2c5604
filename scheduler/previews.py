"""What an operator is shown before a campaign sends: its message rendered for sample buyers,
and how many recipients it can reach, and how.

WeChat lets an account write to a buyer by customer-service message only within 48 hours of
the buyer's last action; outside it a campaign (marketing) reaches a buyer only by mass send,
and only while the buyer's monthly allowance lasts (4 on a service account; a subscription
account mass-sends once a day) — never by template message (``bot/wechat/channels.py``). A
recall's audience is by definition dormant: ``campaign_reach`` counts the audience of the
campaign's next step now by channel (customer-service, mass send) and those who cannot be
reached, by reason; ``reach_warnings`` says so in the staff's words. Creation, preview and
scheduling answer with both (API, CLI and the console's 排期 dialog).

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
from bot.wechat.channels import SERVICE_ACCOUNT, WINDOW, Account, mass_text_problem
from scheduler.campaigns import CampaignError, get_campaign, list_steps
from scheduler.mass_delivery import ANYONE
from scheduler.mass_sends import month_of, sends_today
from scheduler.messages import CampaignMessages
from scheduler.models import RECALL, STEP_PENDING, Campaign, MassAllowance
from scheduler.saved_segments import SegmentNotFound

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


async def campaign_reach(
    session: AsyncSession,
    campaign: Campaign,
    now: datetime,
    account: Account = SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """How many recipients the next step has now, by channel, and how many cannot be reached
    and why (``mass_quota``: outside the window with no mass send left)."""
    in_window = Buyer.last_interaction_at > now - WINDOW  # as the sender decides
    if account.mass_per_buyer:
        used = (
            select(MassAllowance.used)
            .where(MassAllowance.buyer_id == Buyer.id, MassAllowance.month == month_of(now))
            .scalar_subquery()
        )
        mass_ok = func.coalesce(used, 0) < account.mass_per_follower_month
    else:  # one daily mass send for the whole account
        left = await sends_today(session, now) < account.mass_per_day
        mass_ok = literal(left)
    total, window, mass = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(in_window),
                func.count().filter(~func.coalesce(in_window, False), mass_ok),
            )
            .select_from(Buyer)
            .where(await recipients(session, campaign, now))
        )
    ).one()
    total, window, mass = int(total), int(window or 0), int(mass or 0)
    unreachable = total - window - mass
    return {
        "recipients": total,
        "customer_service": window,
        "mass": mass,
        "unreachable": unreachable,
        "unreachable_by_reason": {"mass_quota": unreachable} if unreachable else {},
    }


def reach_warnings(reach: dict[str, Any], account: Account = SERVICE_ACCOUNT) -> list[str]:
    """What the operator should know before sending, in their words (empty: all reached)."""
    total, unreachable = reach["recipients"], reach["unreachable"]
    if total == 0:
        return ["现在没有买家能收到这个活动（目标人群为空）"]
    if not unreachable:
        return []
    allowance = (
        f"每位粉丝每月最多收到 {account.mass_per_follower_month} 次群发"
        if account.mass_per_buyer
        else f"订阅号每天只能群发 {account.mass_per_day} 次"
    )
    return [
        f"{total:,} 位买家中有 {unreachable:,} 位收不到：他们 48 小时内没有互动，"
        f"本月群发次数也已用完（{allowance}）。能收到的：客服消息 "
        f"{reach['customer_service']:,} 位，群发 {reach['mass']:,} 位。"
    ]


async def mass_text_refusal(
    session: AsyncSession, services: Services, campaign: Campaign, account: Account
) -> str | None:
    """Why the campaign may not be scheduled: some of its audience goes by mass send and a
    pending step's mass text is over 300 characters (in Chinese); else None."""
    now = services.clock.now()
    try:
        if not (await campaign_reach(session, campaign, now, account))["mass"]:
            return None
    except SegmentNotFound:  # scheduling says so itself
        return None
    steps = [s for s in await list_steps(session, campaign.id) if s.status == STEP_PENDING]
    messages = CampaignMessages.from_services(services)

    def render_all() -> list[str]:
        return [messages.render(campaign, step, ANYONE) for step in steps]

    try:
        texts = await render_off_loop(render_all)
    except RenderError:  # the preview and the sender report templates that do not render
        return None
    return next((problem for text in texts if (problem := mass_text_problem(text))), None)


async def reach_report(
    session: AsyncSession, campaign: Campaign, now: datetime, account: Account = SERVICE_ACCOUNT
) -> dict:
    """``{"reach": {...}, "warnings": [...]}`` for an API answer or the CLI."""
    reach = await campaign_reach(session, campaign, now, account)
    return {"reach": reach, "warnings": reach_warnings(reach, account)}


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
# a long one folds behind 全文 on a phone.
CUSTOM_TEXT_MAX_BYTES = 2048
LONG_TEXT_CHARS = 300
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
    """The step as four buyers see it: the top tier and no tier, inside the 48-hour window
    (a customer-service message for that buyer) and outside it (the one mass-sent text, the
    same for everybody). A real recipient of each tier is used when the segment has one,
    else a made-up buyer."""
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
        texts = [messages.render(campaign, step, buyer) for _label, buyer in samples]
        return [*texts, messages.render(campaign, step, ANYONE)]

    try:
        *texts, mass_text = await render_off_loop(render_all)
    except RenderError as exc:
        field = "message_source" if campaign.message_source is not None else "message_template"
        raise CampaignError(f"{field}: {exc}") from None
    problem = mass_text_problem(mass_text)
    out = []
    for (label, buyer), text in zip(samples, texts, strict=True):
        name = buyer.display_name or "老朋友"
        out.append({"label": f"{label} · 窗口内", "buyer": name, "channel": "custom",
                    "text": text, "warnings": length_warnings(text)})  # fmt: skip
        out.append({"label": f"{label} · 窗口外", "buyer": name, "channel": "mass",
                    "text": mass_text, "warnings": [problem] if problem else []})  # fmt: skip
    return out
