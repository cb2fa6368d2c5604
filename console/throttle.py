"""Sign-in throttling per account and per client address, counted in the database.

Every failed password is a row; a sign-in is refused while the account (or the address) has
``login_failures_per_account`` (``…_per_address``) failures inside the last
``login_window_minutes``, until the oldest of them leaves the window — which is the wait the
page shows. Rows in the database make the limit hold across several ``serve`` processes. A
successful sign-in clears the account's failures, not the address's. The check runs before
the password is verified, so a locked account answers the same whatever password is sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConsoleConfig
from console.models import LoginFailure


async def _wait(
    session: AsyncSession, column, value: str, limit: int, since: datetime, window: timedelta,
    now: datetime,
) -> timedelta | None:  # fmt: skip
    times = list(
        await session.scalars(
            select(LoginFailure.at)
            .where(column == value, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
    )
    if len(times) < limit:
        return None
    # The limit-th most recent failure decides when one slot frees up.
    return times[-1] + window - now


async def login_wait(
    session: AsyncSession, account: str, address: str, now: datetime, config: ConsoleConfig
) -> timedelta | None:
    """How long this account or address must wait before trying again, or None."""
    window = timedelta(minutes=config.login_window_minutes)
    since = now - window
    waits = [
        await _wait(
            session, LoginFailure.account, account, config.login_failures_per_account, since,
            window, now,
        ),
        await _wait(
            session, LoginFailure.address, address, config.login_failures_per_address, since,
            window, now,
        ),
    ]  # fmt: skip
    waits = [w for w in waits if w is not None and w > timedelta(0)]
    return max(waits) if waits else None


async def record_failure(session: AsyncSession, account: str, address: str, now: datetime) -> None:
    session.add(LoginFailure(account=account[:64], address=address[:64], at=now))


async def clear_failures(session: AsyncSession, account: str) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.account == account))


async def purge_old(session: AsyncSession, now: datetime, config: ConsoleConfig) -> None:
    """Forget failures older than the window (they no longer count)."""
    since = now - timedelta(minutes=config.login_window_minutes)
    await session.execute(delete(LoginFailure).where(LoginFailure.at <= since))


def wait_message(wait: timedelta) -> str:
    """The Chinese message for a throttled sign-in, with the wait rounded up to a minute."""
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return f"登录失败次数过多，请 {minutes} 分钟后再试。"
