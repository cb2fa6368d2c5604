"""Campaign lifecycle: validated specs, the steps each kind needs, and the state transitions.

An operator describes a campaign (livestream, recall, broadcast) as a spec; ``create_campaign``
checks it, stores a draft and computes its timed steps (announcement and reminders, recall
waves, the broadcast). ``schedule`` / ``pause`` / ``resume`` / ``cancel`` move it through
draft → scheduled → running → done; an illegal move raises ``CampaignError`` saying why.

Functions flush but never commit: the caller owns the transaction. This module does not fan
out or send (``scheduler/loop.py``, ``scheduler/delivery.py``) and does not compile segments
(``scheduler/segments.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import Moment
from bot.clock import Clock
from bot.sandbox import RenderError, render_off_loop
from scheduler.errors import CampaignError
from scheduler.messages import CampaignMessages
from scheduler.models import (
    ANNOUNCE,
    CANCELLED,
    DRAFT,
    LIVESTREAM,
    PAUSED,
    PENDING,
    REMINDER,
    RUNNING,
    SCHEDULED,
    SEND,
    SKIPPED,
    START,
    STEP_CANCELLED,
    STEP_MISSED,
    STEP_PENDING,
    WAVE,
    Campaign,
    CampaignStep,
    Delivery,
    Rsvp,
)
from scheduler.segments import SegmentError, compile_segment

DEFAULT_OFFSETS_S = [86400, 3600, 0]  # 1 day before, 1 hour before, at the start
MAX_OFFSET_S = 90 * 86400  # a reminder three months ahead is already a different campaign
# A livestream is on air from start_at until end_at, or for duration_s (default two hours).
DEFAULT_DURATION_S = 7200
MAX_DURATION_S = 86400


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    segment: dict[str, Any] | None = None
    segment_name: str | None = Field(None, max_length=64)
    all_day: bool = False
    template_id: str | None = Field(None, max_length=64)
    message_template: str | None = Field(None, pattern=r"^[a-z0-9_]{1,64}$")
    message_source: str | None = Field(None, max_length=20_000)

    @model_validator(mode="after")
    def _one_segment(self) -> Any:
        if self.segment is not None and self.segment_name:
            raise ValueError("give either segment or segment_name, not both")
        return self


class LivestreamSpec(_Common):
    kind: Literal["livestream"] = "livestream"
    title: str = Field(min_length=1, max_length=128)
    start_at: Moment
    link: str = Field("", max_length=2048)
    offsets_s: list[Annotated[int, Field(ge=0, le=MAX_OFFSET_S)]] = Field(
        default_factory=lambda: DEFAULT_OFFSETS_S, max_length=20
    )
    announce_at: Moment | None = None
    # How long it is on air (直播 says 正在直播 only then): end_at, or duration_s seconds.
    end_at: Moment | None = None
    duration_s: int | None = Field(None, ge=60, le=MAX_DURATION_S)

    @model_validator(mode="after")
    def _one_end(self) -> LivestreamSpec:
        if self.end_at is not None and self.duration_s is not None:
            raise ValueError("give either end_at or duration_s, not both")
        return self


class RecallSpec(_Common):
    kind: Literal["recall"] = "recall"
    # What buyers are told the promotion is called; the campaign's name is internal.
    title: str | None = Field(None, max_length=64)
    window_start: Moment
    window_end: Moment
    waves: list[Moment] = Field(default_factory=list, max_length=50)
    dormant_days: int = Field(30, ge=0, le=36_500)

    @model_validator(mode="after")
    def _waves_inside_window(self) -> RecallSpec:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class BroadcastSpec(_Common):
    kind: Literal["broadcast"] = "broadcast"
    send_at: Moment
    text: str = Field(min_length=1, max_length=2000)


CampaignSpec = Annotated[LivestreamSpec | RecallSpec | BroadcastSpec, Field(discriminator="kind")]
_spec_adapter: TypeAdapter[Any] = TypeAdapter(CampaignSpec)


def parse_campaign_spec(data: dict[str, Any]) -> LivestreamSpec | RecallSpec | BroadcastSpec:
    """Validate an operator's campaign description; errors name the field."""
    try:
        return _spec_adapter.validate_python(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if p not in ("livestream", "recall", "broadcast")]
            problems.append(f"{'.'.join(loc) or 'campaign'}: {err['msg']}")
        raise CampaignError("invalid campaign: " + "; ".join(problems)) from None


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive times are the operator's wall clock in the campaign time zone."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _iso(value: datetime) -> str:
    return value.astimezone(ZoneInfo("UTC")).isoformat()


def _plan(spec: Any, now: datetime, tz: ZoneInfo) -> tuple[dict[str, Any], list[CampaignStep]]:
    """The campaign's params (JSON-safe) and its steps, from a validated spec."""
    if isinstance(spec, LivestreamSpec):
        start = _aware(spec.start_at, tz)
        if start <= now:
            raise CampaignError("start_at: the livestream start is in the past")
        announce = _aware(spec.announce_at, tz) if spec.announce_at else now
        if announce > start:
            raise CampaignError("announce_at: must not be after start_at")
        if spec.end_at is not None:
            end = _aware(spec.end_at, tz)
            if not start < end <= start + timedelta(seconds=MAX_DURATION_S):
                raise CampaignError("end_at: must be after start_at, within 24 hours")
        else:
            end = start + timedelta(seconds=spec.duration_s or DEFAULT_DURATION_S)
        offsets = sorted(set(spec.offsets_s), reverse=True)
        steps = [CampaignStep(kind=ANNOUNCE, due_at=announce)]
        for off in offsets:
            if off > 0 and start - timedelta(seconds=off) > announce:
                steps.append(
                    CampaignStep(kind=REMINDER, due_at=start - timedelta(seconds=off), offset_s=off)
                )
        # The start step always exists: RSVP'd buyers get it even when 0 is not an offset.
        steps.append(CampaignStep(kind=START, due_at=start, offset_s=0))
        params = {
            "title": spec.title,
            "start_at": _iso(start),
            "end_at": _iso(end),
            "link": spec.link,
            "offsets_s": offsets,
            "announce_at": _iso(announce),
        }
    elif isinstance(spec, RecallSpec):
        w_start, w_end = _aware(spec.window_start, tz), _aware(spec.window_end, tz)
        if w_end <= now:
            raise CampaignError("window_end: the promotion window is already over")
        waves = sorted(_aware(w, tz) for w in spec.waves) or [max(w_start, now)]
        for i, wave in enumerate(waves):
            if not w_start <= wave < w_end:
                raise CampaignError(f"waves.{i}: {wave.isoformat()} is outside the window")
        steps = [CampaignStep(kind=WAVE, due_at=w) for w in waves]
        params = {
            "title": spec.title or "",
            "window_start": _iso(w_start),
            "window_end": _iso(w_end),
            "waves": [_iso(w) for w in waves],
            "dormant_days": spec.dormant_days,
        }
    else:
        send_at = _aware(spec.send_at, tz)
        steps = [CampaignStep(kind=SEND, due_at=send_at)]
        params = {"send_at": _iso(send_at), "text": spec.text}
    for seq, step in enumerate(steps):
        step.seq, step.status, step.recipients = seq, STEP_PENDING, 0
    return params, steps


def plan_campaign(
    spec: LivestreamSpec | RecallSpec | BroadcastSpec | dict[str, Any], clock: Clock, tz: str
) -> tuple[LivestreamSpec | RecallSpec | BroadcastSpec, dict[str, Any], list[CampaignStep]]:
    """The parsed spec with its segment checked, and the params and steps it plans to (one way
    for creating a campaign and for editing a draft, ``scheduler/drafts.py``)."""
    if isinstance(spec, dict):
        spec = parse_campaign_spec(spec)
    if spec.segment is not None:
        try:
            compile_segment(spec.segment, clock.now())
        except SegmentError as exc:
            raise CampaignError(f"segment: {exc}") from None
    params, steps = _plan(spec, clock.now(), ZoneInfo(tz))
    return spec, params, steps


async def create_campaign(
    session: AsyncSession,
    spec: LivestreamSpec | RecallSpec | BroadcastSpec | dict[str, Any],
    clock: Clock,
    *,
    tz: str = "Asia/Shanghai",
    messages: CampaignMessages | None = None,
) -> Campaign:
    """Store a draft campaign with its steps; nothing is sent until it is scheduled."""
    spec, params, steps = plan_campaign(spec, clock, tz)
    now = clock.now()
    campaign = Campaign(
        name=spec.name,
        kind=spec.kind,
        status=DRAFT,
        segment=spec.segment,
        segment_name=spec.segment_name,
        all_day=spec.all_day,
        template_id=spec.template_id,
        message_template=spec.message_template,
        message_source=spec.message_source,
        params=params,
        created_at=now,
        updated_at=now,
    )
    await check_message(campaign, steps, messages)
    session.add(campaign)
    await session.flush()
    for step in steps:
        step.campaign_id = campaign.id
        session.add(step)
    await session.flush()
    return campaign


async def check_message(
    campaign: Campaign, steps: list[CampaignStep], messages: CampaignMessages | None
) -> None:
    """Refuse a message template that does not render for the sample contexts (naming the
    line). Rendered in a worker thread: a hostile template cannot stall the event loop."""
    if messages is None:
        from bot.dialog.rendering import Renderer

        messages = CampaignMessages(Renderer().env, "Asia/Shanghai", [])
    field = "message_source" if campaign.message_source is not None else "message_template"
    try:
        await render_off_loop(partial(messages.check, campaign, steps))
    except RenderError as exc:
        raise CampaignError(f"{field}: {exc}") from None


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    """The campaign, or CampaignError when there is none with that id."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign with id {campaign_id}")
    return campaign


async def list_steps(session: AsyncSession, campaign_id: int) -> list[CampaignStep]:
    """The campaign's steps in order."""
    rows = await session.scalars(
        select(CampaignStep)
        .where(CampaignStep.campaign_id == campaign_id)
        .order_by(CampaignStep.seq)
    )
    return list(rows)


def _refuse(campaign: Campaign, action: str, allowed: tuple[str, ...]) -> None:
    if campaign.status not in allowed:
        raise CampaignError(
            f"campaign {campaign.id} is {campaign.status}: cannot {action} "
            f"(only a campaign that is {' or '.join(allowed)} can)"
        )


async def schedule_campaign(
    session: AsyncSession, campaign_id: int, clock: Clock, *, grace_s: int = 900
) -> Campaign:
    """Draft → scheduled: its steps will run when due (an announcement due earlier runs now)."""
    campaign = await get_campaign(session, campaign_id)
    _refuse(campaign, "schedule", (DRAFT,))
    now = clock.now()
    for step in await list_steps(session, campaign_id):
        if step.due_at >= now:
            continue
        if step.kind == ANNOUNCE:
            step.due_at = now
        elif now - step.due_at > timedelta(seconds=grace_s):
            step.status, step.note = STEP_MISSED, "due before the campaign was scheduled"
            step.finished_at = now
    campaign.status, campaign.scheduled_at, campaign.updated_at = SCHEDULED, now, now
    await session.flush()
    return campaign


async def pause_campaign(session: AsyncSession, campaign_id: int, clock: Clock) -> Campaign:
    """Stop sending at once (senders check per batch); due steps wait for resume."""
    campaign = await get_campaign(session, campaign_id)
    _refuse(campaign, "pause", (SCHEDULED, RUNNING))
    campaign.status, campaign.updated_at = PAUSED, clock.now()
    await session.flush()
    return campaign


async def resume_campaign(session: AsyncSession, campaign_id: int, clock: Clock) -> Campaign:
    """Paused → scheduled or running; steps that came due while paused run now."""
    campaign = await get_campaign(session, campaign_id)
    _refuse(campaign, "resume", (PAUSED,))
    started = await session.scalar(
        select(func.count())
        .select_from(CampaignStep)
        .where(CampaignStep.campaign_id == campaign_id, CampaignStep.fanned_out_at.is_not(None))
    )
    now = clock.now()
    campaign.status = RUNNING if started else SCHEDULED
    campaign.resumed_at = campaign.updated_at = now
    await session.flush()
    return campaign


async def cancel_campaign(session: AsyncSession, campaign_id: int, clock: Clock) -> Campaign:
    """Stop for good: pending steps cancelled, unsent deliveries skipped as cancelled."""
    campaign = await get_campaign(session, campaign_id)
    _refuse(campaign, "cancel", (DRAFT, SCHEDULED, RUNNING, PAUSED))
    now = clock.now()
    await session.execute(
        update(CampaignStep)
        .where(CampaignStep.campaign_id == campaign_id, CampaignStep.status == STEP_PENDING)
        .values(status=STEP_CANCELLED, finished_at=now, note="campaign cancelled")
    )
    # Rows a sender holds right now (claimed) keep their real result when it arrives.
    await session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == PENDING)
        .values(status=SKIPPED, reason="cancelled")
    )
    campaign.status, campaign.updated_at, campaign.finished_at = CANCELLED, now, now
    await session.flush()
    return campaign


async def add_rsvp(session: AsyncSession, campaign_id: int, buyer_id: int, now: datetime) -> bool:
    """Record that a buyer wants the livestream's start reminder; False if already recorded."""
    if await session.get(Rsvp, (campaign_id, buyer_id)) is not None:
        return False
    session.add(Rsvp(campaign_id=campaign_id, buyer_id=buyer_id, created_at=now))
    await session.flush()
    return True


async def next_livestream(session: AsyncSession, now: datetime) -> Campaign | None:
    """The next livestream that is scheduled or running and has not started yet."""
    rows = await session.scalars(
        select(Campaign).where(
            Campaign.kind == LIVESTREAM, Campaign.status.in_((SCHEDULED, RUNNING))
        )
    )  # a handful of rows: livestreams are scheduled a few at a time
    return next_of(list(rows), now)


def next_of(livestreams: Sequence[Any], now: datetime) -> Any:
    """Of these livestream campaigns, the next one scheduled or running, not started yet."""
    upcoming = [
        c
        for c in livestreams
        if c.status in (SCHEDULED, RUNNING) and datetime.fromisoformat(c.params["start_at"]) >= now
    ]
    return min(upcoming, key=lambda c: c.params["start_at"], default=None)


def campaign_to_dict(c: Campaign) -> dict[str, Any]:
    """A JSON-safe view of a campaign for the API and the CLI."""
    return {
        "id": c.id,
        "name": c.name,
        "kind": c.kind,
        "status": c.status,
        "segment": c.segment,
        "segment_name": c.segment_name,
        "all_day": c.all_day,
        "template_id": c.template_id,
        "message_template": c.message_template,
        "has_message_source": c.message_source is not None,
        "params": c.params,
        "created_at": c.created_at.isoformat(),
        "scheduled_at": c.scheduled_at.isoformat() if c.scheduled_at else None,
        "finished_at": c.finished_at.isoformat() if c.finished_at else None,
    }
