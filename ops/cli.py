"""``laoke backup``, ``laoke restore`` and ``laoke doctor``: the operator's commands for a
production installation (docs/deployment.md). Registered by the composition root
(``laoke/cli.py``); the work is in ``ops/backup.py`` and ``ops/doctor.py``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import click

from bot.cli_support import config_option, database_errors, load_or_exit
from bot.clock import Clock
from ops.backup import BackupError, default_name, holds_data, restore_backup, take_backup
from ops.doctor import check_config, examine
from ops.findings import FAIL


@click.command()
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Backup file, or a folder for laoke-<time>.db/.dump (default: backups/).",
)
def backup(config_path: Path, output: Path | None) -> None:
    """Copy the database to a backup file while Laoke keeps serving."""
    config = load_or_exit(config_path)
    url = config.database.url
    name = default_name(url, Clock().now().strftime("%Y%m%d-%H%M%S"))
    if output is None:
        output = Path("backups") / name
    elif output.is_dir():
        output = output / name
    try:
        info = take_backup(url, output)
    except BackupError as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(1)
    click.echo(f"backup written to {info.path} ({info.size_bytes:,} bytes, schema {info.revision})")


@click.command()
@config_option
@click.argument("backup_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace a database that already holds buyers or messages.",
)
def restore(config_path: Path, backup_file: Path, replace: bool) -> None:
    """Restore a backup into the configured database (stop serve and workers first)."""
    config = load_or_exit(config_path)
    url = config.database.url
    with database_errors():
        if not replace and asyncio.run(holds_data(url)):
            click.echo(
                "laoke: the database already holds buyers and messages; stop every "
                "`laoke serve` and `laoke worker`, then run again with --replace to overwrite it",
                err=True,
            )
            sys.exit(1)
    try:
        info = restore_backup(backup_file, url)
    except BackupError as exc:
        click.echo(f"laoke: {exc}", err=True)
        sys.exit(1)
    if info.migrated_to:
        click.echo(
            f"restored {backup_file} (schema {info.revision}, migrated to {info.migrated_to})"
        )
    else:
        click.echo(f"restored {backup_file} (schema {info.revision})")


@click.command()
@config_option
def doctor(config_path: Path) -> None:
    """Check that this installation is wired right; one line per check with what to do."""
    found, config = check_config(config_path)
    findings = [found]
    if config is not None:

        async def run() -> list:
            async with aiohttp.ClientSession() as http:
                return await examine(config, Clock(), http)

        findings += asyncio.run(run())
    for finding in findings:
        click.echo(finding.line())
    failed = [f.check for f in findings if f.status == FAIL]
    if failed:
        click.echo(f"{len(failed)} of {len(findings)} checks failed: {', '.join(failed)}")
        sys.exit(1)
    click.echo(f"all {len(findings)} checks passed")
