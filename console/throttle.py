"""Password-guess throttling, counted in the database: sign-ins and "confirm your password".

Every attempt is a row written — and committed — *before* the password is checked
(``claim_attempt``); only then are the rows in the window counted. A right password deletes
the rows it was counted with (``settle_attempt``); a wrong one stays as a failure. Counting
after the commit is what makes it atomic: the k-th attempt to commit sees at least k rows,
in this process or any other (PostgreSQL and SQLite alike), so however many arrive at once,
at most the limit get their password checked. (Check-then-act let 30 concurrent attempts
all pass a check that allowed 5.) A refused attempt deletes its own row: it checked nothing.

What is counted, within ``login_window_minutes``:

- sign-in (``LOGIN``): failures for one account *from one client address*
  (``login_failures_per_account``) and from one address for any accounts
  (``login_failures_per_address``). An attacker's address slows itself down; it cannot lock
  a known account for staff signing in from elsewhere. Guessing from many addresses is left
  to the password policy (``password_policy.py``) and argon2's cost.
- confirmation (``CONFIRM``): failures of one signed-in account, from any address
  (``login_failures_per_account``): whoever holds the session is the guesser.

A refused attempt waits until the oldest counted failure leaves the window; the page says how
long. The client address comes from ``client_address.py`` (trusted proxies). This module does
not hash (``password_pool.py``) or decide what a password must be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import ConsoleConfig
from console.models import LoginFailure

LOGIN, CONFIRM = "login", "confirm"
MAX_KEY = 64  # the width of the account and address columns


@dataclass(frozen=True)
class Claim:
    """One attempt, counted: `wait` is None when its password may be checked."""

    attempt_id: int | None
    purpose: str
    account: str
    address: str
    wait: timedelta | None


def _scopes(purpose: str, account: str, address: str, config: ConsoleConfig) -> list:
    """(conditions, limit) for each count the attempt must stay within."""
    mine = LoginFailure.purpose == purpose
    if purpose == CONFIRM:
        return [((mine, LoginFailure.account == account), config.login_failures_per_account)]
    return [
        (
            (mine, LoginFailure.account == account, LoginFailure.address == address),
            config.login_failures_per_account,
        ),
        ((mine, LoginFailure.address == address), config.login_failures_per_address),
    ]


async def _wait(
    session: AsyncSession, claim_id: int, conditions, limit: int, now: datetime,
    window: timedelta,
) -> timedelta | None:  # fmt: skip
    times = list(
        await session.scalars(
            select(LoginFailure.at)
            .where(*conditions, LoginFailure.id != claim_id, LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
    )
    if len(times) < limit:
        return None
    # With `limit` others already counted, this attempt is one too many; the limit-th most
    # recent of them decides when a slot frees up.
    return max(times[-1] + window - now, timedelta(seconds=1))


async def claim_attempt(
    sessions: async_sessionmaker[AsyncSession],
    purpose: str,
    account: str,
    address: str,
    now: datetime,
    config: ConsoleConfig,
) -> Claim:
    """Count one password attempt before its password is checked (see the module docstring).

    Two transactions on purpose: the row must be committed before the count, so that
    concurrent attempts, in any process, see it."""
    account, address = account[:MAX_KEY], address[:MAX_KEY]
    async with sessions() as session, session.begin():
        row = LoginFailure(purpose=purpose, account=account, address=address, at=now)
        session.add(row)
        await session.flush()
        attempt_id = row.id
    window = timedelta(minutes=config.login_window_minutes)
    async with sessions() as session, session.begin():
        waits = [
            await _wait(session, attempt_id, conditions, limit, now, window)
            for conditions, limit in _scopes(purpose, account, address, config)
        ]
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            await session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))
            return Claim(None, purpose, account, address, wait)
    return Claim(attempt_id, purpose, account, address, None)


async def settle_attempt(session: AsyncSession, claim: Claim) -> None:
    """The password was right: forget the failures this attempt was counted with (a sign-in:
    the account's from this address; a confirmation: the account's)."""
    conditions = [LoginFailure.purpose == claim.purpose, LoginFailure.account == claim.account]
    if claim.purpose == LOGIN:
        conditions.append(LoginFailure.address == claim.address)
    await session.execute(delete(LoginFailure).where(*conditions))


async def purge_old(session: AsyncSession, now: datetime, config: ConsoleConfig) -> None:
    """Forget failures older than the window (they no longer count)."""
    since = now - timedelta(minutes=config.login_window_minutes)
    await session.execute(delete(LoginFailure).where(LoginFailure.at <= since))


def wait_message(wait: timedelta, purpose: str = LOGIN) -> str:
    """The Chinese message for a throttled attempt, with the wait rounded up to a minute."""
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    what = "登录失败" if purpose == LOGIN else "密码输入错误"
    return f"{what}次数过多，请 {minutes} 分钟后再试。"
