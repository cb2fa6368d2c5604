"""营销 → 活动 editor tools: the buyer's-eye preview, the summary before scheduling, binding
the operator's own WeChat and the test send.

The preview renders one step for sample buyers of the top tier and of none, inside and
outside WeChat's 48-hour window (``scheduler/previews.bubble_previews``), with the step
timeline. The summary (``scheduler/overview.schedule_summary``) fills the 排期 dialog.
Binding issues a one-time code the operator sends to the Official Account
(``handlers/staff_bind.py`` completes it); the test send goes through
``scheduler/staff_sends.send_test``. Both changes are audited. Every partial here is also a
full page without htmx.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from bot.wechat.channels import Account
from console import audit
from console.campaign_form import (
    KIND_LABELS,
    REACH_REASONS,
    STATUS_LABELS,
    step_label,
    translate,
)
from console.current import actor_of, signed_in_user
from console.pages.campaigns import LIST, campaign_id_of
from console.registry import PageRoutes
from console.rendering import render
from scheduler.campaigns import CampaignError, get_campaign, list_steps
from scheduler.overview import schedule_summary
from scheduler.previews import bubble_previews, campaign_reach
from scheduler.saved_segments import SegmentNotFound
from scheduler.staff_sends import (
    SendRefused,
    binding_of,
    new_bind_code,
    send_mass_preview,
    send_test,
)

page = PageRoutes()


def _seq(request: web.Request, steps: list) -> int:
    raw = request.query.get("step", "")
    pending = next((s.seq for s in steps if s.status == "pending"), 0)
    return int(raw) if _small(raw) and int(raw) < len(steps) else pending


def _small(raw: str) -> bool:
    """An ASCII step number of at most 3 digits (int() of "²" or 5,000 digits would raise)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 3


async def _campaign(session, campaign_id: int):
    try:
        return await get_campaign(session, campaign_id)
    except CampaignError:
        raise web.HTTPNotFound(text="没有这个活动") from None


@page.get(LIST + "/{campaign_id}/preview", role="operator")
async def preview(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    services, now = request.config_dict[SERVICES], request.config_dict[CLOCK].now()
    error, bubbles, reach = None, [], None
    async with request.config_dict[SESSIONMAKER]() as session:
        campaign = await _campaign(session, campaign_id)
        steps = await list_steps(session, campaign_id)
        seq = _seq(request, steps)
        try:
            reach = await campaign_reach(session, campaign, now, Account.of(services.config.wechat))
            bubbles = await bubble_previews(session, services, campaign, steps[seq])
        except (CampaignError, SegmentNotFound) as exc:
            error = translate(str(exc))
    timeline = [(s.seq, step_label(s.kind, s.offset_s), s.due_at, s.recipients, s.status)
                for s in steps]  # fmt: skip
    context = {"campaign": campaign, "bubbles": bubbles, "timeline": timeline, "seq": seq,
               "reach": reach, "error": error, "kinds": KIND_LABELS}  # fmt: skip
    template = "campaigns/_preview.html" if request.headers.get("HX-Request") else (
        "campaigns/preview.html")  # fmt: skip
    return render(request, template, context)


@page.get(LIST + "/{campaign_id}/summary", role="operator")
async def summary(request: web.Request) -> web.StreamResponse:
    """What scheduling would do now: the 排期 dialog's numbers and warnings."""
    campaign_id = campaign_id_of(request)
    now, cfg = request.config_dict[CLOCK].now(), request.config_dict[CONFIG].campaigns
    async with request.config_dict[SESSIONMAKER]() as session:
        campaign = await _campaign(session, campaign_id)
        try:
            numbers = await schedule_summary(
                session, campaign, now, cfg, Account.of(request.config_dict[CONFIG].wechat)
            )
        except SegmentNotFound:
            numbers = None
    template = "campaigns/_summary.html" if request.headers.get("HX-Request") else (
        "campaigns/summary.html")  # fmt: skip
    return render(request, template, {"campaign": campaign, "s": numbers,
                                      "statuses": STATUS_LABELS,
                                      "reach_reasons": REACH_REASONS})  # fmt: skip


@page.post(LIST + "/wechat/code", role="operator")
async def bind_code(request: web.Request) -> web.StreamResponse:
    user, now = signed_in_user(request), request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER].begin() as session:
        code = await new_bind_code(session, user.id, now)
        audit.record(session, actor_of(request), "staff_wechat.code", ("user", user.id),
                     None, {"expires_minutes": 10})  # fmt: skip
    template = "campaigns/_bind.html" if request.headers.get("HX-Request") else (
        "campaigns/bind.html")  # fmt: skip
    return render(request, template, {"code": code, "bound": False})


@page.get(LIST + "/wechat/status", role="operator")
async def bind_status(request: web.Request) -> web.StreamResponse:
    user = signed_in_user(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        binding = await binding_of(session, user.id)
    bound = bool(binding and binding.openid)
    template = "campaigns/_bind.html" if request.headers.get("HX-Request") else (
        "campaigns/bind.html")  # fmt: skip
    return render(request, template, {"code": None, "bound": bound})


@page.post(LIST + "/{campaign_id}/test-send", role="operator")
async def test_send(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    form = await request.post()
    user, services = signed_in_user(request), request.config_dict[SERVICES]
    raw = str(form.get("step", ""))
    async with request.config_dict[SESSIONMAKER].begin() as session:
        campaign = await _campaign(session, campaign_id)
        steps = await list_steps(session, campaign_id)
        seq = int(raw) if _small(raw) and int(raw) < len(steps) else 0
        step = steps[seq]
        mass = form.get("mode") == "mass"
        send = send_mass_preview if mass else send_test
        try:
            sent = await send(session, services, campaign, step, user.id)
            label = step_label(step.kind, step.offset_s)
            message = f"已{'群发预览' if mass else '发送'}到您的微信：{label}"
            ok = True
        except SendRefused as exc:
            message, ok, sent = str(exc), False, None
        audit.record(session, actor_of(request), "campaign.test_send", ("campaign", campaign_id),
                     None, {"step": seq, "mass": mass, "sent": ok, "result": message,
                            "text": sent.text if sent else None})  # fmt: skip
    template = "campaigns/_test_result.html" if request.headers.get("HX-Request") else (
        "campaigns/test_result.html")  # fmt: skip
    status = 200 if ok or request.headers.get("HX-Request") else 409  # htmx swaps only 2xx
    return render(request, template, {"message": message, "ok": ok, "campaign": campaign},
                  status=status)  # fmt: skip
