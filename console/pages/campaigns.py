"""营销 → 活动: the campaign list and the editor (create, edit a draft, duplicate).

Viewers see the list and reports (``campaign_report.py``); operators create, edit and
duplicate here, preview and test-send in ``campaign_tools.py``. The editor validates with the
API's own specs (``console/campaign_form.py``) and saves a draft on every change (htmx posts
the form after each edit and answers with the save status and the errors on their fields).
Queries live in ``scheduler/`` (overview, drafts, saved segments); nothing here writes SQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.api import path_id
from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from console import audit
from console.campaign_form import (
    KIND_LABELS,
    STATUS_LABELS,
    VARIABLES,
    blank_form,
    error_of,
    form_from_spec,
    read_form,
    spec_data,
    step_label,
    validate,
)
from console.current import actor_of, signed_in_user
from console.labels import variable_chips
from console.registry import PageRoutes
from console.rendering import BEIJING, render
from content.catalogue import CAMPAIGN, CATALOGUE
from members.tiers import current_tiers
from scheduler.campaigns import CampaignError, campaign_to_dict, get_campaign, list_steps
from scheduler.campaigns_api import create_any, update_any
from scheduler.drafts import duplicate_campaign, spec_of
from scheduler.messages import CampaignMessages
from scheduler.models import DRAFT
from scheduler.overview import campaign_rows
from scheduler.saved_segments import count_segment, list_segments
from scheduler.segments import Vocabulary
from scheduler.staff_sends import binding_of

page = PageRoutes()
LIST = "/admin/campaigns"
MAX_SEGMENTS = 50  # the picker counts each saved segment; more than this is not a picker


def countdown(at: datetime | None, now: datetime) -> str:
    """``2小时后 · 05-18 00:00`` (Beijing time); ``—`` without a time."""
    if at is None:
        return "—"
    left = at - now
    stamp = at.astimezone(BEIJING).strftime("%m-%d %H:%M")
    if left <= timedelta(0):
        return f"已到时 · {stamp}"
    minutes = int(left.total_seconds() // 60)
    if minutes < 60:
        ahead = f"{max(minutes, 1)}分钟后"
    elif minutes < 48 * 60:
        ahead = f"{minutes // 60}小时后"
    else:
        ahead = f"{minutes // 1440}天后"
    return f"{ahead} · {stamp}"


def campaign_id_of(request: web.Request) -> int:
    campaign_id = path_id(request.match_info["campaign_id"])
    if campaign_id is None:
        raise web.HTTPNotFound(text="没有这个活动")
    return campaign_id


def starter(name: str, now: datetime) -> dict[str, Any]:
    """The empty list's prefilled starters: the 5·18 recall and a new-product livestream."""
    today = now.astimezone(BEIJING)
    if name == "518":
        year = today.year if (today.month, today.day) < (5, 18) else today.year + 1
        form = blank_form("recall")
        form |= {"name": f"{year} 5·18 粉丝召回", "title": "5·18 老客回馈",
                 "window_start": f"{year}-05-18T00:00", "window_end": f"{year}-05-19T00:00",
                 "all_day": True}  # fmt: skip
        return form
    start = (today + timedelta(days=3)).replace(hour=20, minute=0, second=0, microsecond=0)
    form = blank_form("livestream")
    form |= {"name": "新品直播预告", "title": "春夏新品直播",
             "start_at": start.strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    return form


@page.get(LIST, role="viewer")
async def campaign_list(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "")
    status = status if status in STATUS_LABELS else ""
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        rows = await campaign_rows(session, now, status=status or None)
    return render(
        request,
        "campaigns/list.html",
        {
            "rows": rows,
            "status": status,
            "statuses": STATUS_LABELS,
            "kinds": KIND_LABELS,
            "countdowns": {r.campaign.id: countdown(r.next_due, now) for r in rows},
        },
    )


async def editor_context(request: web.Request, session: Any) -> dict[str, Any]:
    """What every editor page shows beside the form: segments with counts, the binding."""
    now = request.config_dict[CLOCK].now()
    segments = []
    for seg in (await list_segments(session))[:MAX_SEGMENTS]:
        counts = await count_segment(session, seg.spec, now)
        segments.append((seg.name, counts.reachable))
    everyone = await count_segment(session, {"all": []}, now)
    user = signed_in_user(request)
    binding = await binding_of(session, user.id) if user else None
    return {
        "segments": segments,
        "everyone": everyone.reachable,
        "kinds": KIND_LABELS,
        "statuses": STATUS_LABELS,
        "variables": variable_chips(CAMPAIGN, VARIABLES),
        "campaign_templates": [
            (t.name, t.description) for t in CATALOGUE.values() if t.topic == "活动"
        ],
        "bound": bool(binding and binding.openid),
        "code": None,
        "steps": [],
        "step_label": step_label,
    }


@page.get(LIST + "/new", role="operator")
async def new_campaign(request: web.Request) -> web.StreamResponse:
    now = request.config_dict[CLOCK].now()
    kind = request.query.get("kind", "livestream")
    form = starter(request.query["starter"], now) if request.query.get("starter") else None
    form = form or blank_form(kind if kind in KIND_LABELS else "livestream")
    async with request.config_dict[SESSIONMAKER]() as session:
        extra = await editor_context(request, session)
    return render(request, "campaigns/editor.html",
                  {"form": form, "errors": {}, "campaign": None, **extra})  # fmt: skip


async def _save(request: web.Request, campaign_id: int | None) -> tuple[Any, dict, dict]:
    """Validate the posted form and create or update the draft: (campaign, form, errors)."""
    form = read_form(await request.post())
    data, errors = spec_data(form)
    spec, spec_errors = validate(data)
    errors |= spec_errors
    if spec is None or errors:
        return None, form, errors
    clock, config = request.config_dict[CLOCK], request.config_dict[CONFIG]
    messages = CampaignMessages.from_services(request.config_dict[SERVICES])
    tz = config.campaigns.timezone
    async with request.config_dict[SESSIONMAKER].begin() as session:
        vocabulary = Vocabulary.from_config(config, await current_tiers(session, config.tiers))
        try:
            if campaign_id is None:
                campaign = await create_any(session, spec, clock, tz, vocabulary, messages)
                before = None
            else:
                before = campaign_to_dict(await get_campaign(session, campaign_id))
                campaign = await update_any(
                    session, campaign_id, spec, clock, tz, vocabulary, messages
                )
        except CampaignError as exc:
            if str(exc).startswith("no campaign"):
                raise web.HTTPNotFound(text="没有这个活动") from None
            field, message = error_of(str(exc))
            return None, form, {field: message}
        audit.record(
            session,
            actor_of(request),
            "campaign.create" if campaign_id is None else "campaign.edit",
            ("campaign", campaign.id),
            before,
            campaign_to_dict(campaign),
        )
    return campaign, form, {}


@page.post(LIST + "/new", role="operator")
async def create_campaign_post(request: web.Request) -> web.StreamResponse:
    campaign, form, errors = await _save(request, None)
    if campaign is None:
        async with request.config_dict[SESSIONMAKER]() as session:
            extra = await editor_context(request, session)
        return render(request, "campaigns/editor.html",
                      {"form": form, "errors": errors, "campaign": None, **extra},
                      status=400)  # fmt: skip
    raise web.HTTPSeeOther(f"{LIST}/{campaign.id}/edit?saved=1")


@page.get(LIST + "/{campaign_id}/edit", role="operator")
async def edit_campaign(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    tz = request.config_dict[CONFIG].campaigns.timezone
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            campaign = await get_campaign(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        if campaign.status != DRAFT:
            raise web.HTTPSeeOther(f"{LIST}/{campaign_id}")
        extra = await editor_context(request, session)
        extra["steps"] = await list_steps(session, campaign_id)
        form = form_from_spec(spec_of(campaign, tz))
    return render(request, "campaigns/editor.html",
                  {"form": form, "errors": {}, "campaign": campaign, **extra})  # fmt: skip


@page.post(LIST + "/{campaign_id}/edit", role="operator")
async def save_campaign(request: web.Request) -> web.StreamResponse:
    """Autosave (htmx: the status and field errors) or a plain submit (redirect or form)."""
    campaign_id = campaign_id_of(request)
    campaign, form, errors = await _save(request, campaign_id)
    now = request.config_dict[CLOCK].now()
    if request.headers.get("HX-Request"):
        response = render(request, "campaigns/_save_status.html",
                          {"errors": errors, "saved_at": now, "fields": list(form)})  # fmt: skip
        if campaign is not None:
            response.headers["HX-Trigger"] = "campaign-saved"  # the preview re-renders
        return response
    if campaign is not None:
        raise web.HTTPSeeOther(f"{LIST}/{campaign_id}/edit?saved=1")
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            current = await get_campaign(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        extra = await editor_context(request, session)
    return render(request, "campaigns/editor.html",
                  {"form": form, "errors": errors, "campaign": current, **extra},
                  status=400 if current.status == DRAFT else 409)  # fmt: skip


@page.post(LIST + "/{campaign_id}/duplicate", role="operator")
async def duplicate(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    clock, config = request.config_dict[CLOCK], request.config_dict[CONFIG]
    messages = CampaignMessages.from_services(request.config_dict[SERVICES])
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            copy = await duplicate_campaign(
                session, campaign_id, clock, tz=config.campaigns.timezone, messages=messages
            )
        except CampaignError as exc:
            if str(exc).startswith("no campaign"):
                raise web.HTTPNotFound(text="没有这个活动") from None
            raise web.HTTPConflict(text=f"无法复制：{exc}") from None
        audit.record(session, actor_of(request), "campaign.duplicate", ("campaign", copy.id),
                     {"from": campaign_id}, campaign_to_dict(copy))  # fmt: skip
    raise web.HTTPSeeOther(f"{LIST}/{copy.id}/edit")
