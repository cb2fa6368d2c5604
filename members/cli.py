"""``laoke import-orders`` and ``laoke tier …``: orders and tiers from a terminal.

The commands call the same functions as the operator API (``members/orders_api.py``): import,
then recompute tiers and announce the changes through the configured WeChat API. Errors an
operator can cause (a missing column, an unknown tier) print ``laoke: <message>`` and exit 1.
``laoke/cli.py`` registers ``import-orders`` and the ``tier`` group.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from bot.cli_support import config_option, load_or_exit, local_time, run_with_database
from bot.config import Config
from bot.dialog.context import Services
from bot.models import Buyer
from members.order_csv import FIELDS, OrderFileError
from members.order_import import import_csv
from members.tier_notices import deliver_pending_notices
from members.tier_recompute import recompute_all_tiers
from members.tiers import TierError, set_manual_tier, tier_changes_for

T = TypeVar("T")


def _run(config: Config, work: Callable[..., Awaitable[T]]) -> T:
    return run_with_database(config, work, (OrderFileError, TierError, LookupError))


def _echo(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _parse_mapping(items: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in items:
        field, sep, header = item.partition("=")
        if not sep or field not in FIELDS:
            raise click.BadParameter(
                f"{item!r}: use field=header, field one of {', '.join(FIELDS)}"
            )
        mapping[field] = header
    return mapping


@click.command("import-orders")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "-m",
    multiple=True,
    metavar="FIELD=HEADER",
    help="Column for a field when the export names it differently (repeatable).",
)
@click.option("--encoding", help="utf-8, utf-8-sig or gbk (detected when absent).")
@click.option("--no-recompute", is_flag=True, help="Import only; tiers wait for the nightly run.")
@config_option
def import_orders_command(
    file: Path,
    mapping: tuple[str, ...],
    encoding: str | None,
    no_recompute: bool,
    config_path: Path,
) -> None:
    """Import a platform order export (CSV), then recompute tiers and announce changes."""
    config = load_or_exit(config_path)
    columns = _parse_mapping(mapping)

    async def work(maker, services: Services) -> dict[str, Any]:
        with file.open("rb") as raw:
            result = await import_csv(
                maker, raw, config.orders, services.clock.now(), mapping=columns, encoding=encoding
            )
        out = result.as_dict()
        if not no_recompute:
            out["tiers"] = (await recompute_all_tiers(maker, services)).as_dict()
        return out

    out = _run(config, work)
    for bad in out["bad_rows"]:
        click.echo(f"line {bad['line']}: {bad['reason']}", err=True)
    out["bad_rows"] = len(out["bad_rows"])
    _echo(out)


@click.group()
def tier() -> None:
    """Member tiers: set one by hand, recompute all, list changes."""


@tier.command("set")
@click.argument("openid")
@click.argument("key")
@click.option("--reason", required=True, help="Why (kept with the change).")
@click.option("--until", help="Expiry, a date or time in the orders time zone (2026-06-30).")
@config_option
def tier_set(openid: str, key: str, reason: str, until: str | None, config_path: Path) -> None:
    """Set OPENID's tier to KEY by hand (KEY "auto" gives it back to the orders)."""
    config = load_or_exit(config_path)
    expiry = None
    if until:
        try:
            expiry = datetime.fromisoformat(until)
        except ValueError:
            raise click.BadParameter(
                f"{until!r} is not a date or time", param_hint="--until"
            ) from None
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=ZoneInfo(config.orders.timezone))

    async def work(maker, services: Services) -> dict[str, Any]:
        async with maker() as session:
            buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
            if buyer is None:
                raise TierError("openid", f"no buyer with openid {openid!r}")
            change = await set_manual_tier(
                session,
                buyer,
                None if key == "auto" else key,
                reason=reason,
                until=expiry,
                services=services,
            )
            await session.commit()
            out = {"from": change.from_key, "to": change.to_key, "reason": change.reason}
        out["notices"] = await deliver_pending_notices(maker, services, buyer_id=buyer.id)
        return out

    _echo(_run(config, work))


@tier.command("recompute")
@config_option
def tier_recompute(config_path: Path) -> None:
    """Recompute every buyer's tier from their orders now (as the nightly job does)."""
    config = load_or_exit(config_path)
    _echo(_run(config, lambda maker, services: _as_dict(recompute_all_tiers(maker, services))))


async def _as_dict(result: Awaitable[Any]) -> dict[str, Any]:
    return (await result).as_dict()


@tier.command("changes")
@click.option("--openid", help="Only this buyer's.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@config_option
def tier_changes(openid: str | None, limit: int, config_path: Path) -> None:
    """List recent tier changes, newest first (times in the [campaigns] time zone)."""
    config = load_or_exit(config_path)
    tz = config.campaigns.timezone

    async def work(maker, services: Services) -> list[str]:
        async with maker() as session:
            buyer_id = None
            if openid:
                buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
                if buyer_id is None:
                    raise TierError("openid", f"no buyer with openid {openid!r}")
            changes = await tier_changes_for(session, buyer_id=buyer_id, limit=limit)
            return [
                f"{local_time(c.created_at, tz)} buyer {c.buyer_id}: {c.from_key or '-'} → "
                f"{c.to_key or '-'} ({c.reason}{': ' + c.note if c.note else ''}; notice {c.notice})"
                for c in changes
            ]

    for line in _run(config, work):
        click.echo(line)
