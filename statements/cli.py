"""``laoke statements …``: close a period and list the closed ones from a terminal.

``laoke statements close --period 2026-11`` closes that period (or, without ``--period``,
every period that is due) and tells its buyers; closing a closed period changes nothing.
``laoke statements periods`` lists the closed periods with their totals. Both call what the
console and the scheduler call (``statements/runs.py``, ``statements/views.py``).
``laoke/cli.py`` registers the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli_support import config_option, emit, json_option, load_or_exit, run_with_database, table
from bot.dialog.rendering import cents
from statements.close import close_due
from statements.notices import notify_period
from statements.periods import PeriodError
from statements.runs import close_and_notify
from statements.views import closed_periods

CLI_ACTOR = "命令行"


@click.group()
def statements() -> None:
    """Statements (对账单) and rebates: close periods (docs/statements.md)."""


@statements.command("close")
@config_option
@json_option
@click.option("--period", "key", default=None, help="e.g. 2026-11, 2026-Q4 or 2026.")
@click.option("--no-notify", is_flag=True, help="Do not tell the buyers (yet).")
def statements_close(config_path: Path, as_json: bool, key: str | None, no_notify: bool) -> None:
    """Close a period: a statement per buyer with activity, rebates accrued, buyers told."""
    config = load_or_exit(config_path)

    async def work(maker, services) -> list[dict]:
        if key is not None:
            result, told = await close_and_notify(
                maker, services, key, actor=CLI_ACTOR, notify=not no_notify
            )
            return [_row(result, told)]
        rows = []
        for result in await close_due(maker, config, services.clock.now()):
            told = {} if no_notify else await notify_period(maker, services, result.key)
            rows.append(_row(result, told))
        return rows

    rows = run_with_database(config, work, (PeriodError,))
    emit(rows, as_json, _summary)


def _row(result, told: dict[str, int]) -> dict:
    return {
        "period": result.key, "already_closed": result.already, "statements": result.statements,
        "net_cents": result.net_cents, "rebate_cents": result.rebate_cents, "told": told,
    }  # fmt: skip


def _summary(rows: list[dict]) -> str:
    if not rows:
        return "no period is due for closing"
    lines = []
    for r in rows:
        state = "was already closed" if r["already_closed"] else "closed"
        told = ", ".join(f"{n} by {how}" for how, n in sorted(r["told"].items())) or "nobody"
        lines.append(
            f"{r['period']} {state}: {r['statements']} statements, net {cents(r['net_cents'])}, "
            f"rebates {cents(r['rebate_cents'])}; buyers told: {told}"
        )
    return "\n".join(lines)


@statements.command("periods")
@config_option
@json_option
def statements_periods(config_path: Path, as_json: bool) -> None:
    """List the closed periods with their totals."""
    config = load_or_exit(config_path)

    async def work(maker, services) -> list[dict]:
        async with maker() as session:
            periods = await closed_periods(session, config)
        return [
            {"period": p.key, "buyers": p.buyers, "net_cents": p.net, "rebate_cents": p.rebate,
             "paid_cents": p.paid, "closed_by": p.closed_by, "closed_at": p.closed_at.isoformat()}
            for p in periods
        ]  # fmt: skip

    rows = run_with_database(config, work, ())
    emit(rows, as_json, lambda rs: table(
        [[r["period"], r["buyers"], cents(r["net_cents"]), cents(r["rebate_cents"]),
          cents(r["paid_cents"]), r["closed_by"]] for r in rs],
        ["period", "buyers", "net", "rebates", "paid", "closed by"],
    ) if rs else "no period is closed yet")  # fmt: skip
