"""营销 → 活动 → one campaign: the live report, its recipients (list and CSV), and the moves
schedule / pause / resume / cancel.

The report (``scheduler/reports.campaign_report``) is read-only and open to viewers; while
the campaign is sending, its progress section polls every 5 s (htmx ``every 5s``) and a
finished report drops the trigger. Moves are operators', each confirmed in a ``<dialog>``
(cancel by typing the campaign's name), done with ``scheduler/campaigns_api.move_campaign``
and audited. The recipients list pages by delivery id; the export neutralises formulas.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from bot.wechat.channels import Account
from console import audit
from console.audit import neutralise
from console.campaign_form import (
    CHANNEL_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    step_label,
)
from console.current import actor_of
from console.pages.campaigns import LIST, campaign_id_of, countdown
from console.registry import PageRoutes
from console.rendering import beijing, render
from scheduler.campaigns import CampaignError, campaign_to_dict, get_campaign, list_steps
from scheduler.campaigns_api import move_campaign
from scheduler.models import RUNNING, SCHEDULED
from scheduler.overview import schedule_summary
from scheduler.previews import mass_text_refusal
from scheduler.reports import OUTCOME_STATUSES, campaign_report, recipient_page
from scheduler.saved_segments import SegmentNotFound

page = PageRoutes()
PAGE_SIZE = 50
EXPORT_LIMIT = 200_000
LIVE = (RUNNING, SCHEDULED)  # the report refreshes itself only while these


async def _report(request: web.Request) -> dict:
    campaign_id = campaign_id_of(request)
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            campaign = await get_campaign(session, campaign_id)
            report = await campaign_report(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        steps = await list_steps(session, campaign_id)
    labels = {s.id: step_label(s.kind, s.offset_s) for s in steps}
    next_due = min((s.due_at for s in steps if s.status == "pending"), default=None)
    conv = report["conversion"]
    funnel = [("触达", conv["reached"]), ("48小时内回复", conv["replied_48h"]),
              ("7天内下单", conv["ordered_7d"])]  # fmt: skip
    return {
        "campaign": campaign,
        "report": report,
        "step_labels": labels,
        "step_times": {s.id: beijing(s.due_at) for s in steps},
        "live": campaign.status in LIVE,
        "countdown": countdown(next_due, now),
        "funnel": funnel,
        "chart": {"funnel": [{"name": n, "value": v} for n, v in funnel]},
        "kinds": KIND_LABELS,
        "statuses": STATUS_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "reason_labels": REASON_LABELS,
        "channel_labels": CHANNEL_LABELS,
    }


@page.get(LIST + "/{campaign_id}", role="viewer")
async def campaign_page(request: web.Request) -> web.StreamResponse:
    return render(request, "campaigns/report.html", await _report(request))


@page.get(LIST + "/{campaign_id}/progress", role="viewer")
async def progress(request: web.Request) -> web.StreamResponse:
    """The report's live section (htmx polls it while sending; a full page otherwise)."""
    context = await _report(request)
    if request.headers.get("HX-Request"):
        return render(request, "campaigns/_progress.html", context)
    return render(request, "campaigns/report.html", context)


def _recipient_query(request: web.Request) -> tuple[str | None, int | None]:
    outcome = request.query.get("outcome") or None
    if outcome not in OUTCOME_STATUSES:
        outcome = None
    after = request.query.get("after", "")
    ok = after.isascii() and after.isdigit() and len(after) < 19
    return outcome, int(after) if ok else None


@page.get(LIST + "/{campaign_id}/recipients", role="viewer")
async def recipients(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    outcome, after = _recipient_query(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            campaign = await get_campaign(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        rows = await recipient_page(
            session, campaign_id, outcome=outcome, after_id=after, limit=PAGE_SIZE + 1
        )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        request,
        "campaigns/recipients.html",
        {
            "campaign": campaign,
            "rows": rows,
            "outcome": outcome or "",
            "next_after": rows[-1].id if more else None,
            "outcome_labels": OUTCOME_LABELS,
            "reason_labels": REASON_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "step_label": step_label,
        },
    )


@page.get(LIST + "/{campaign_id}/recipients.csv", role="viewer")
async def recipients_csv(request: web.Request) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    outcome, _after = _recipient_query(request)
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            await get_campaign(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        rows = await recipient_page(session, campaign_id, outcome=outcome, limit=EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["买家ID", "称呼", "公司", "等级", "步骤", "结果", "原因", "渠道", "发送时间"])
    for r in rows:
        writer.writerow([neutralise(str(c)) for c in (
            r.buyer_id, r.display_name or "", r.company or "", r.tier_key or "",
            step_label(r.step_kind, None), OUTCOME_LABELS.get(r.outcome, r.outcome),
            REASON_LABELS.get(r.reason or "", r.reason or ""),
            CHANNEL_LABELS.get(r.channel or "", r.channel or ""),
            beijing(r.sent_at) if r.sent_at else "",
        )])  # fmt: skip
    return web.Response(
        body="\ufeff".encode() + out.getvalue().encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"',
            "Cache-Control": "no-store",
        },
    )


MOVE_LABELS = {"schedule": "排期", "pause": "暂停", "resume": "继续", "cancel": "停止活动"}


async def _move(request: web.Request, action: str) -> web.StreamResponse:
    campaign_id = campaign_id_of(request)
    form = await request.post()
    clock, config = request.config_dict[CLOCK], request.config_dict[CONFIG]
    async with request.config_dict[SESSIONMAKER].begin() as session:
        try:
            campaign = await get_campaign(session, campaign_id)
        except CampaignError:
            raise web.HTTPNotFound(text="没有这个活动") from None
        if action == "cancel" and str(form.get("confirm_name", "")).strip() != campaign.name:
            return await _refuse(request, "停止活动需要输入活动名称「" + campaign.name + "」")
        account = Account.of(config.wechat)
        if action == "schedule" and (problem := await mass_text_refusal(
                session, request.config_dict[SERVICES], campaign, account)):  # fmt: skip
            return await _refuse(request, f"无法排期：{problem}")
        if action == "schedule" and form.get("confirm_reach") != "1":
            try:
                numbers = await schedule_summary(
                    session, campaign, clock.now(), config.campaigns, account
                )
            except SegmentNotFound:
                return await _refuse(request, "活动使用的分群已不存在，请先修改分群")
            if numbers["mostly_unreachable"]:
                return await _refuse(request, "大部分买家现在收不到这个活动：请在排期对话框里"
                                              "看清各发送方式的人数，勾选确认后再排期")  # fmt: skip
        before = campaign_to_dict(campaign)
        try:
            campaign = await move_campaign(session, action, campaign_id, clock, config)
        except CampaignError:
            return await _refuse(request, f"当前状态为「{STATUS_LABELS.get(campaign.status)}」，"
                                          f"不能{MOVE_LABELS[action]}")  # fmt: skip
        audit.record(session, actor_of(request), f"campaign.{action}",
                     ("campaign", campaign_id), before, campaign_to_dict(campaign))  # fmt: skip
    raise web.HTTPSeeOther(f"{LIST}/{campaign_id}")


async def _refuse(request: web.Request, message: str) -> web.StreamResponse:
    context = await _report(request)
    return render(request, "campaigns/report.html", {**context, "refusal": message}, status=409)


@page.post(LIST + "/{campaign_id}/schedule", role="operator")
async def schedule(request: web.Request) -> web.StreamResponse:
    return await _move(request, "schedule")


@page.post(LIST + "/{campaign_id}/pause", role="operator")
async def pause(request: web.Request) -> web.StreamResponse:
    return await _move(request, "pause")


@page.post(LIST + "/{campaign_id}/resume", role="operator")
async def resume(request: web.Request) -> web.StreamResponse:
    return await _move(request, "resume")


@page.post(LIST + "/{campaign_id}/cancel", role="operator")
async def cancel(request: web.Request) -> web.StreamResponse:
    return await _move(request, "cancel")
