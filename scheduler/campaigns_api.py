"""Operator API for campaigns: create each kind, list, read, preview, move, and the report.

One endpoint per kind for creation (``/campaigns/livestreams`` …), so each body is one plain
schema in the OpenAPI document and a validation error names the field as the operator wrote
it. Every endpoint calls the lifecycle functions of ``scheduler/campaigns.py`` (E2) and the
report of ``scheduler/reports.py`` inside one transaction; ``CampaignError`` becomes 404 for
an unknown campaign and 409 for a move its state forbids (the message says why).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from aiohttp import web
from jinja2 import TemplateError, TemplateNotFound
from pydantic import Field, RootModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import ApiError, ApiRoutes, json_response, path_id
from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from bot.clock import Clock
from bot.config import Config
from bot.wechat.channels import Account
from scheduler.campaigns import (
    BroadcastSpec,
    CampaignError,
    LivestreamSpec,
    RecallSpec,
    campaign_to_dict,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_steps,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from scheduler.drafts import update_draft
from scheduler.messages import CampaignMessages
from scheduler.models import (
    CANCELLED,
    DONE,
    DRAFT,
    KINDS,
    PAUSED,
    RUNNING,
    SCHEDULED,
    Campaign,
    CampaignStep,
)
from scheduler.previews import mass_text_refusal, preview_campaign, reach_report
from scheduler.reports import campaign_report
from scheduler.saved_segments import SegmentNotFound, get_segment
from scheduler.segments import SegmentError, Vocabulary, compile_segment
from scheduler.segments_api import sample_size

routes = ApiRoutes("campaigns")

Spec = LivestreamSpec | RecallSpec | BroadcastSpec
ID = "{id:[0-9]+}"  # ASCII digits only; path_id() also bounds it to a BIGINT
STATUSES = (DRAFT, SCHEDULED, RUNNING, PAUSED, CANCELLED, DONE)


def step_to_dict(step: CampaignStep) -> dict[str, Any]:
    return {
        "id": step.id,
        "kind": step.kind,
        "due_at": step.due_at.isoformat(),
        "offset_s": step.offset_s,
        "status": step.status,
        "recipients": step.recipients,
        "note": step.note,
    }


async def check_segment_name(session: AsyncSession, spec: Spec) -> None:
    """A campaign may name a saved segment only if it exists (CampaignError otherwise)."""
    if spec.segment_name:
        try:
            await get_segment(session, spec.segment_name)
        except SegmentNotFound as exc:
            raise CampaignError(f"segment_name: {exc}") from None


async def create_any(
    session: AsyncSession,
    spec: Spec,
    clock: Clock,
    tz: str,
    vocabulary: Vocabulary | None = None,
    messages: CampaignMessages | None = None,
) -> Campaign:
    """Create a draft campaign of any kind after checking its saved segment exists and its
    inline segment names only values buyers can have; with `messages`, a
    ``message_template`` must name a template that exists."""
    await check_segment_name(session, spec)
    if spec.segment is not None and vocabulary is not None:
        try:
            compile_segment(spec.segment, clock.now(), vocabulary)
        except SegmentError as exc:
            raise CampaignError(f"segment: {exc}") from None
    return await create_campaign(session, spec, clock, tz=tz, messages=messages)


class CampaignEdit(RootModel[Annotated[Spec, Field(discriminator="kind")]]):
    """A draft's new description: any kind's spec, with ``kind`` saying which."""


async def update_any(
    session: AsyncSession,
    campaign_id: int,
    spec: Spec,
    clock: Clock,
    tz: str,
    vocabulary: Vocabulary | None = None,
    messages: CampaignMessages | None = None,
) -> Campaign:
    """Edit a draft with the checks of ``create_any`` (CampaignError unless a draft)."""
    await check_segment_name(session, spec)
    if spec.segment is not None and vocabulary is not None:
        try:
            compile_segment(spec.segment, clock.now(), vocabulary)
        except SegmentError as exc:
            raise CampaignError(f"segment: {exc}") from None
    return await update_draft(session, campaign_id, spec, clock, tz=tz, messages=messages)


def _campaign_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    campaign_id = path_id(raw)
    if campaign_id is None:
        raise ApiError(404, f"no campaign with id {raw!r}")
    return campaign_id


FIELD_RE = re.compile(r"^(?:invalid campaign: )?([\w.]+): ")


def _refused(exc: CampaignError, status: int = 409) -> ApiError:
    """404 for an unknown campaign, else `status`; names the field when the message does."""
    message = str(exc)
    if message.startswith("no campaign"):
        return ApiError(404, message)
    match = FIELD_RE.match(message)
    return ApiError(status, message, **({"field": match.group(1)} if match else {}))


def _messages(request: web.Request) -> CampaignMessages:
    """The renderer of campaign messages the senders use (one per process)."""
    return CampaignMessages.from_services(request.config_dict[SERVICES])


async def _create(request: web.Request, spec: Spec) -> dict[str, Any]:
    clock, config = request.config_dict[CLOCK], request.config_dict[CONFIG]
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            campaign = await create_any(
                session,
                spec,
                clock,
                config.campaigns.timezone,
                Vocabulary.from_config(config),
                _messages(request),
            )
        except CampaignError as exc:
            raise _refused(exc, 400) from None
        steps = await list_steps(session, campaign.id)
        reach = await reach_report(session, campaign, clock.now(), Account.of(config.wechat))
        return {**campaign_to_dict(campaign), "steps": [step_to_dict(s) for s in steps], **reach}


@routes.route(
    "POST", "/campaigns/livestreams", "Create a livestream campaign (draft)", body=LivestreamSpec
)
async def create_livestream(request: web.Request, body: LivestreamSpec) -> dict[str, Any]:
    return await _create(request, body)


@routes.route("POST", "/campaigns/recalls", "Create a fan-recall campaign (draft)", body=RecallSpec)
async def create_recall(request: web.Request, body: RecallSpec) -> dict[str, Any]:
    return await _create(request, body)


@routes.route(
    "POST", "/campaigns/broadcasts", "Create a broadcast campaign (draft)", body=BroadcastSpec
)
async def create_broadcast(request: web.Request, body: BroadcastSpec) -> dict[str, Any]:
    return await _create(request, body)


@routes.route(
    "PUT",
    f"/campaigns/{ID}",
    "Edit a draft campaign (any kind; 409 once it is scheduled)",
    body=CampaignEdit,
    status=200,
)
async def edit_campaign(request: web.Request, body: CampaignEdit) -> dict[str, Any]:
    campaign_id, clock = _campaign_id(request), request.config_dict[CLOCK]
    config = request.config_dict[CONFIG]
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            campaign = await update_any(
                session,
                campaign_id,
                body.root,
                clock,
                config.campaigns.timezone,
                Vocabulary.from_config(config),
                _messages(request),
            )
        except CampaignError as exc:
            message = str(exc)
            status = 409 if "cannot edit" in message else 400
            raise _refused(exc, status) from None
        steps = await list_steps(session, campaign.id)
        reach = await reach_report(session, campaign, clock.now(), Account.of(config.wechat))
        return {**campaign_to_dict(campaign), "steps": [step_to_dict(s) for s in steps], **reach}


@routes.route(
    "GET",
    "/campaigns",
    "List campaigns, newest first",
    query={"kind": "livestream, recall or broadcast", "status": "draft, scheduled, running …"},
)
async def list_campaigns(request: web.Request) -> dict[str, Any]:
    query = select(Campaign).order_by(Campaign.id.desc())
    kind, status = request.query.get("kind"), request.query.get("status")
    if kind:
        if kind not in KINDS:
            raise ApiError(400, f"kind: must be one of {', '.join(KINDS)}", field="kind")
        query = query.where(Campaign.kind == kind)
    if status:
        if status not in STATUSES:
            raise ApiError(400, f"status: must be one of {', '.join(STATUSES)}", field="status")
        query = query.where(Campaign.status == status)
    async with request.config_dict[SESSIONMAKER]() as session:
        return {"campaigns": [campaign_to_dict(c) for c in await session.scalars(query)]}


@routes.route("GET", f"/campaigns/{ID}", "Read a campaign with its steps")
async def read_campaign(request: web.Request) -> dict[str, Any]:
    campaign_id = _campaign_id(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            campaign = await get_campaign(session, campaign_id)
        except CampaignError as exc:
            raise _refused(exc) from None
        steps = await list_steps(session, campaign_id)
        return {**campaign_to_dict(campaign), "steps": [step_to_dict(s) for s in steps]}


@routes.route(
    "GET",
    f"/campaigns/{ID}/preview",
    "The campaign's next message rendered for sample buyers of its segment",
    query={"sample": "how many buyers (0-100, default 5)"},
)
async def preview(request: web.Request) -> dict[str, Any]:
    campaign_id, sample = _campaign_id(request), sample_size(request, default=5)
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            preview = await preview_campaign(
                session, request.config_dict[SERVICES], campaign_id, sample
            )
        except CampaignError as exc:
            raise _refused(exc) from None
        except SegmentNotFound as exc:
            raise ApiError(409, f"segment_name: {exc}") from None
        except TemplateError as exc:  # stored before templates were checked at creation
            field = "message_template" if campaign_uses_template(exc) else "message_source"
            raise ApiError(409, f"{field}: cannot render: {exc}", field=field) from None
    return {"campaign_id": campaign_id, **preview}


def campaign_uses_template(exc: TemplateError) -> bool:
    """Whether the error is a named template that is missing (else the campaign's source)."""
    return isinstance(exc, TemplateNotFound)


@routes.route("GET", f"/campaigns/{ID}/report", "The live report: outcomes and conversion")
async def report(request: web.Request) -> dict[str, Any]:
    campaign_id = _campaign_id(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            return await campaign_report(session, campaign_id)
        except CampaignError as exc:
            raise _refused(exc) from None


def _move_endpoint(action: str, summary: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        campaign_id = _campaign_id(request)
        config = request.config_dict[CONFIG]
        async with request.config_dict[SESSIONMAKER].begin() as session:
            if action == "schedule":
                try:
                    current = await get_campaign(session, campaign_id)
                except CampaignError as exc:
                    raise _refused(exc) from None
                problem = await mass_text_refusal(
                    session, request.config_dict[SERVICES], current, Account.of(config.wechat)
                )
                if problem:
                    raise ApiError(400, f"无法排期：{problem}")
            try:
                campaign = await move_campaign(
                    session,
                    action,
                    campaign_id,
                    request.config_dict[CLOCK],
                    request.config_dict[CONFIG],
                )
            except CampaignError as exc:
                raise _refused(exc) from None
            result = campaign_to_dict(campaign)
            if action == "schedule":
                result.update(
                    await reach_report(
                        session,
                        campaign,
                        request.config_dict[CLOCK].now(),
                        Account.of(request.config_dict[CONFIG].wechat),
                    )
                )
        return json_response(result)  # 200: the campaign changed state, nothing was created

    handler.__name__ = f"{action}_campaign"
    routes.route("POST", f"/campaigns/{ID}/{action}", summary, status=200)(handler)


async def move_campaign(
    session: AsyncSession, action: str, campaign_id: int, clock: Clock, config: Config
) -> Campaign:
    """schedule / pause / resume / cancel a campaign (shared by the API and the CLI)."""
    if action == "schedule":
        return await schedule_campaign(
            session, campaign_id, clock, grace_s=config.campaigns.missed_grace_s
        )
    return await MOVES[action](session, campaign_id, clock)


MOVES = {"pause": pause_campaign, "resume": resume_campaign, "cancel": cancel_campaign}
ACTIONS = {
    "schedule": "Schedule a draft: its steps run when due",
    "pause": "Pause sending at once; due steps wait for resume",
    "resume": "Resume a paused campaign",
    "cancel": "Cancel: nothing more is sent",
}
for _action, _summary in ACTIONS.items():
    _move_endpoint(_action, _summary)
