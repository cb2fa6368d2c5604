"""``laoke campaign …``: create, list, show, move, preview and report campaigns.

Every command loads the configuration, opens the database (refusing an out-of-date schema),
calls the same functions the JSON API calls, and prints readable text — or, with ``--json``,
the API's JSON. Errors an operator can cause print ``laoke: <message>`` and exit 1.
Importing this module adds the group to ``laoke`` (``laoke/cli.py`` imports it last; the plain
``import`` there keeps either import order free of a circular-import error). ``laoke segment
…`` is in ``scheduler/segment_commands.py``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli_support import (
    config_option,
    emit,
    json_option,
    load_or_exit,
    local_time,
    read_json,
    run_with_database,
    table,
)
from bot.clock import Clock
from bot.config import Config
from bot.dialog.context import Services
from bot.wechat.channels import Account
from scheduler.campaigns import (
    campaign_to_dict,
    get_campaign,
    list_steps,
    parse_campaign_spec,
)
from scheduler.campaigns_api import ACTIONS, create_any, move_campaign, step_to_dict
from scheduler.errors import CampaignError
from scheduler.messages import CampaignMessages
from scheduler.models import KINDS, Campaign
from scheduler.previews import preview_campaign, reach_report
from scheduler.reports import campaign_report
from scheduler.saved_segments import (
    SegmentExists,
    SegmentInUse,
    SegmentNotFound,
)
from scheduler.segments import SegmentError

T = TypeVar("T")
OPERATOR_ERRORS = (SegmentError, SegmentExists, SegmentInUse, SegmentNotFound, CampaignError)


def run(config: Config, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` with a sessionmaker on the configured database; operator errors exit 1."""
    return run_with_database(config, lambda maker, _services: work(maker), OPERATOR_ERRORS)


@click.group()
def campaign() -> None:
    """Campaigns: livestream announcements, fan recall, broadcasts."""


def _campaign_text(data: dict[str, Any], tz: str) -> str:
    segment_desc = data["segment_name"] or (
        json.dumps(data["segment"], ensure_ascii=False) if data["segment"] else "all buyers"
    )
    lines = [
        f"#{data['id']} {data['name']}  [{data['kind']}, {data['status']}]",
        f"segment: {segment_desc}" + ("  (all day)" if data["all_day"] else ""),
        f"params: {json.dumps(data['params'], ensure_ascii=False)}",
    ]
    if data.get("steps"):
        rows = [
            [
                s["id"],
                s["kind"],
                local_time(s["due_at"], tz),
                s["status"],
                "-" if s["status"] == "pending" else s["recipients"],  # counted at fan-out
                s["note"],
            ]
            for s in data["steps"]
        ]
        lines.append(table(rows, ["STEP", "KIND", f"DUE ({tz})", "STATUS", "RECIPIENTS", "NOTE"]))
    return "\n".join(lines + _reach_lines(data))


def _reach_lines(data: dict[str, Any]) -> list[str]:
    """The reach counts and warnings of a create / schedule / preview answer, if any."""
    reach = data.get("reach")
    if reach is None:
        return []
    lines = [
        f"reach now: {reach['recipients']:,} recipients — {reach['customer_service']:,} by "
        f"customer-service message, {reach['mass']:,} by mass send, "
        f"{reach['unreachable']:,} unreachable"
    ]
    return lines + [f"warning: {w}" for w in data.get("warnings", [])]


async def _with_steps(session: AsyncSession, c: Campaign) -> dict[str, Any]:
    return {
        **campaign_to_dict(c),
        "steps": [step_to_dict(s) for s in await list_steps(session, c.id)],
    }


@campaign.command("create")
@click.argument("spec")
@click.option("--schedule", "then_schedule", is_flag=True, help="Schedule it at once.")
@config_option
@json_option
def campaign_create(spec: str, then_schedule: bool, config_path: Path, as_json: bool) -> None:
    """Create a campaign from SPEC (JSON with "kind": livestream|recall|broadcast; @file, -)."""
    config = load_or_exit(config_path)
    parsed = read_json(spec, "SPEC")

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        clock = Clock()
        async with make.begin() as session:
            created = await create_any(
                session,
                parse_campaign_spec(parsed),
                clock,
                config.campaigns.timezone,
                CampaignMessages.from_config(config),
            )
            if then_schedule:
                created = await move_campaign(session, "schedule", created.id, clock, config)
            data = await _with_steps(session, created)
            return {
                **data,
                **await reach_report(session, created, clock.now(), Account.of(config.wechat)),
            }

    emit(run(config, work), as_json, lambda d: _campaign_text(d, config.campaigns.timezone))


@campaign.command("list")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--status")
@config_option
@json_option
def campaign_list(kind: str | None, status: str | None, config_path: Path, as_json: bool) -> None:
    """List campaigns, newest first."""

    async def work(make: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
        query = select(Campaign).order_by(Campaign.id.desc())
        if kind:
            query = query.where(Campaign.kind == kind)
        if status:
            query = query.where(Campaign.status == status)
        async with make() as session:
            return [campaign_to_dict(c) for c in await session.scalars(query)]

    config = load_or_exit(config_path)
    tz = config.campaigns.timezone
    data = run(config, work)
    rows = [
        [c["id"], c["kind"], c["status"], c["name"], local_time(c["created_at"], tz)] for c in data
    ]
    emit(data, as_json, lambda d: table(rows, ["ID", "KIND", "STATUS", "NAME", f"CREATED ({tz})"]))


@campaign.command("show")
@click.argument("campaign_id", type=int)
@config_option
@json_option
def campaign_show(campaign_id: int, config_path: Path, as_json: bool) -> None:
    """Show a campaign and its steps."""

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with make() as session:
            return await _with_steps(session, await get_campaign(session, campaign_id))

    config = load_or_exit(config_path)
    emit(run(config, work), as_json, lambda d: _campaign_text(d, config.campaigns.timezone))


def _move_command(action: str, summary: str) -> None:
    @campaign.command(action, help=summary + ".")
    @click.argument("campaign_id", type=int)
    @config_option
    @json_option
    def move(campaign_id: int, config_path: Path, as_json: bool) -> None:
        config = load_or_exit(config_path)

        async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
            async with make.begin() as session:
                clock = Clock()
                moved = await move_campaign(session, action, campaign_id, clock, config)
                data = campaign_to_dict(moved)
                if action == "schedule":
                    data.update(
                        await reach_report(session, moved, clock.now(), Account.of(config.wechat))
                    )
                return data

        data = run(config, work)
        emit(
            data,
            as_json,
            lambda d: "\n".join([f"campaign {d['id']} is now {d['status']}", *_reach_lines(d)]),
        )


for _action, _summary in ACTIONS.items():
    _move_command(_action, _summary)


@campaign.command("preview")
@click.argument("campaign_id", type=int)
@click.option("--sample", default=3, show_default=True, type=click.IntRange(0, 100))
@config_option
@json_option
def campaign_preview(campaign_id: int, sample: int, config_path: Path, as_json: bool) -> None:
    """Render the campaign's next message for sample buyers of its segment."""
    config = load_or_exit(config_path)

    # The preview renders only: it never sends, so the WeChat API is never called.
    async def work(make: async_sessionmaker[AsyncSession], services: Services) -> dict[str, Any]:
        async with make() as session:
            return await preview_campaign(session, services, campaign_id, sample)

    def text(data: dict[str, Any]) -> str:
        messages = data["messages"]
        shown = "\n\n".join(f"— to {m['openid']} ({m['step']}):\n{m['text']}" for m in messages)
        lines = [shown or "(no buyer in the segment can receive it now)", *_reach_lines(data)]
        return "\n".join(lines)

    emit(run_with_database(config, work, OPERATOR_ERRORS), as_json, text)


def _report_text(r: dict[str, Any], tz: str) -> str:
    c, conv = r["campaign"], r["conversion"]

    def detail(outcome: str) -> str:
        o = r["outcomes"][outcome]
        parts = [f"{k} {v}" for k, v in {**o["by_channel"], **o["by_reason"]}.items()]
        return f"  {outcome:<9} {o['total']:>8,}" + (f"   ({', '.join(parts)})" if parts else "")

    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%}"

    lines = [
        f"#{c['id']} {c['name']}  [{c['kind']}, {c['status']}]",
        f"  recipients {r['recipients']:>7,}   ({r['buyers']:,} buyers)",
        *(detail(o) for o in ("sent", "failed", "skipped", "uncertain", "pending")),
        f"  reached {conv['reached']:,} buyers; wrote back within 48 h: {conv['replied_48h']:,} "
        f"({pct(conv['reply_rate'])}); ordered within 7 days: {conv['ordered_7d']:,} "
        f"({pct(conv['order_rate'])})",
    ]
    if (m := r.get("mass")) and m["calls"]:
        lines.append(
            f"  mass sends {m['calls']:,} to {m['recipients']:,}; WeChat reported "
            f"{m['finished']:,}: sent {m['sent']:,}, filtered {m['filtered']:,}, "
            f"errors {m['errors']:,}"
        )
    rows = [
        [
            s["kind"],
            local_time(s["due_at"], tz),
            s["status"],
            s["recipients"],
            s["sent"],
            s["failed"],
            s["skipped"],
            s["uncertain"],
            s["pending"],
        ]
        for s in r["steps"]
    ]
    header = [
        "STEP",
        f"DUE ({tz})",
        "STATUS",
        "RECIP.",
        "SENT",
        "FAILED",
        "SKIPPED",
        "UNCERT.",
        "PENDING",
    ]
    return "\n".join(lines) + "\n" + table(rows, header)


@campaign.command("report")
@click.argument("campaign_id", type=int)
@config_option
@json_option
def campaign_report_command(campaign_id: int, config_path: Path, as_json: bool) -> None:
    """The live report: outcomes by reason and channel, per step, and conversion."""

    async def work(make: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with make() as session:
            return await campaign_report(session, campaign_id)

    config = load_or_exit(config_path)
    emit(run(config, work), as_json, lambda d: _report_text(d, config.campaigns.timezone))
