"""``laoke followers …``: sync the account's followers into the buyer book from a terminal.

``laoke followers sync`` runs the sync in the foreground (resuming an unfinished one), prints
its progress on stderr and a summary at the end; ``laoke followers status`` shows the newest
job. Both call what the API calls (``followers/runner.py``, ``followers/jobs.py``). Operator
output is English like the other commands; the reasons a sync stopped are the Chinese ones
staff read in the console. ``laoke/cli.py`` registers the group.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from bot.cli_support import (
    config_option,
    emit,
    json_option,
    load_or_exit,
    local_time,
    run_with_database,
)
from followers.jobs import SyncRunning, job_to_dict, latest_job
from followers.models import DONE, FollowerSyncJob
from followers.runner import sync_now

PROGRESS_EVERY_S = 1.0


@click.group()
def followers() -> None:
    """Followers the account already has: import them into the buyer book (docs/deployment.md)."""


def _progress() -> Any:
    last = [0.0, ""]

    def show(job: FollowerSyncJob) -> None:
        now = time.monotonic()
        if job.phase == last[1] and now - last[0] < PROGRESS_EVERY_S:
            return
        last[0], last[1] = now, job.phase
        if job.phase == "listing":
            line = f"listing: {job.listed:,} of {job.total:,} followers"
        elif job.phase == "detailing":
            line = (
                f"details: {job.detailed:,} of {job.listed:,} "
                f"({job.created:,} new, {job.updated:,} updated, {job.errors:,} errors)"
            )
        else:
            line = f"marking followers who left: {job.left_count:,} so far"
        click.echo(line, err=True)

    return show


def _summary(data: dict[str, Any], tz: str) -> str:
    calls = data["api_calls"]
    head = f"follower sync {data['id']} {data['status']}"
    if data["status"] != DONE:
        head += f" in phase {data['phase']}: {data['error'] or ''}"
    return (
        f"{head}\n"
        f"  WeChat counts {data['total']:,} followers; {data['listed']:,} listed, "
        f"{data['detailed']:,} detailed\n"
        f"  {data['created']:,} buyers created, {data['updated']:,} updated, "
        f"{data['left']:,} marked as left, {data['errors']:,} errors\n"
        f"  API calls: {calls['user/get']:,} user/get, {calls['user/info/batchget']:,} "
        f"user/info/batchget\n"
        f"  started {local_time(data['created_at'], tz)}, "
        f"last activity {local_time(data['finished_at'] or data['heartbeat_at'], tz)}"
    )


@followers.command("sync")
@config_option
@json_option
def followers_sync(config_path: Path, as_json: bool) -> None:
    """List every follower, create buyers for the new ones, mark those who left.

    Resumes the unfinished sync if there is one (after a crash, a stop or a spent quota)."""
    config = load_or_exit(config_path)

    async def work(maker, services) -> tuple[dict[str, Any], bool]:
        job, resumed = await sync_now(
            maker, services, trigger="cli", actor="命令行", progress=_progress()
        )
        return job_to_dict(job), resumed

    try:
        data, resumed = run_with_database(config, work, ())
    except SyncRunning as exc:
        job = exc.job
        where = f" (job {job.id}, phase {job.phase}, {job.listed:,} listed)" if job else ""
        click.echo(
            f"laoke: a follower sync is already running{where}; see `laoke followers status`",
            err=True,
        )
        sys.exit(1)
    if resumed and not as_json:
        click.echo(f"resumed follower sync {data['id']}", err=True)
    emit(data, as_json, lambda d: _summary(d, config.campaigns.timezone))
    if data["status"] != DONE:
        sys.exit(1)


@followers.command("status")
@config_option
@json_option
def followers_status(config_path: Path, as_json: bool) -> None:
    """Show the newest follower sync and its progress."""
    config = load_or_exit(config_path)

    async def work(maker, services) -> dict[str, Any] | None:
        async with maker() as session:
            job = await latest_job(session)
        return job_to_dict(job) if job else None

    data = run_with_database(config, work, ())
    if data is None:
        click.echo("no follower sync has run yet (run `laoke followers sync`)")
        return
    emit(data, as_json, lambda d: _summary(d, config.campaigns.timezone))
