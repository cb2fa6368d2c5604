"""``laoke user add|list|passwd|disable|enable``: staff accounts from a terminal.

The first admin is made here (``laoke user add NAME --role admin``); later ones can be added
in the console too. A password is prompted for (twice, hidden) or, with ``--generate``,
generated and printed once; a common or guessable password, or one containing the account
name, is refused (``password_policy.py``). Every change is audited as ``命令行:<OS user>``.
The group is added to ``laoke`` with one ``main.add_command(user)`` line in ``laoke/cli.py``.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_support import config_option, load_or_exit, run_with_database
from bot.clock import Clock
from console import audit
from console.accounts import (
    AccountError,
    create_user,
    generate_password,
    get_user_by_name,
    list_users,
    set_disabled,
    set_password,
    user_snapshot,
)
from console.models import ROLES, User
from console.password_policy import weakness
from console.roles import Role
from console.tokens import fit_tokens_to_owner

T = TypeVar("T")


@click.group()
def user() -> None:
    """Staff accounts for the console (/admin)."""


generate_option = click.option(
    "--generate", is_flag=True, help="Generate a password and print it once instead of asking."
)


def _actor() -> audit.Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return audit.Actor(None, f"命令行:{who}")


def _password(name: str, generate: bool) -> tuple[str, bool]:
    """The new password (generated, or typed twice and checked against the policy at once, so
    a weak one is refused before anything else happens) and whether to print it."""
    if generate:
        return generate_password(name), True
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = weakness(name, password)
    if problem is not None:
        raise click.ClickException(problem)
    return password, False


def _run(config_path: Path, work: Callable[[AsyncSession, Clock], Awaitable[T]]) -> T:
    config = load_or_exit(config_path)

    async def go(maker, services) -> T:
        async with maker() as session, session.begin():
            return await work(session, services.clock)

    return run_with_database(config, go, (AccountError, ValueError))


async def _existing(session: AsyncSession, name: str) -> User:
    found = await get_user_by_name(session, name)
    if found is None:
        raise AccountError(f"no account named {name!r} (see `laoke user list`)")
    return found


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@generate_option
@config_option
def add(name: str, role: str, generate: bool, config_path: Path) -> None:
    """Create an account."""
    password, show = _password(name, generate)

    async def work(session: AsyncSession, clock: Clock) -> User:
        created = await create_user(session, name, role, password, clock.now())
        audit.record(
            session, _actor(), "user.create", ("user", created.id), None, user_snapshot(created),
            at=clock.now(),
        )  # fmt: skip
        return created

    created = _run(config_path, work)
    click.echo(f"created {created.name} ({Role.parse(created.role).name})")
    if show:
        click.echo(f"password (shown once): {password}")


@user.command("list")
@config_option
def list_(config_path: Path) -> None:
    """List accounts: name, role, state, last sign-in."""

    async def work(session: AsyncSession, _clock: Clock) -> list[User]:
        return await list_users(session)

    for u in _run(config_path, work):
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
        state = "disabled" if u.disabled else "enabled"
        click.echo(f"{u.name:24} {u.role:9} {state:9} last sign-in {last}")


@user.command("passwd")
@click.argument("name")
@generate_option
@config_option
def passwd(name: str, generate: bool, config_path: Path) -> None:
    """Set an account's password (its open sessions end)."""
    password, show = _password(name, generate)

    async def work(session: AsyncSession, clock: Clock) -> None:
        found = await _existing(session, name)
        await set_password(session, found, password)
        audit.record(
            session, _actor(), "user.password", ("user", found.id), None, None, at=clock.now()
        )

    _run(config_path, work)
    click.echo(f"password of {name} changed")
    if show:
        click.echo(f"password (shown once): {password}")


def _set_disabled(name: str, disabled: bool, config_path: Path) -> None:
    async def work(session: AsyncSession, clock: Clock) -> None:
        found = await _existing(session, name)
        before = user_snapshot(found)
        await set_disabled(session, found, disabled)
        audit.record(
            session, _actor(), "user.disable" if disabled else "user.enable", ("user", found.id),
            before, user_snapshot(found), at=clock.now(),
        )  # fmt: skip
        await fit_tokens_to_owner(session, found, _actor(), clock.now())

    _run(config_path, work)
    click.echo(f"{name} {'disabled' if disabled else 'enabled'}")


@user.command("disable")
@click.argument("name")
@config_option
def disable(name: str, config_path: Path) -> None:
    """Disable an account (its sessions and API tokens stop working)."""
    _set_disabled(name, True, config_path)


@user.command("enable")
@click.argument("name")
@config_option
def enable(name: str, config_path: Path) -> None:
    """Re-enable a disabled account."""
    _set_disabled(name, False, config_path)
