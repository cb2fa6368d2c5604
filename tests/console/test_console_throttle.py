"""Password-guess throttling in the database: per account and address, per address, per account
for confirmations; attempts counted before the password is checked, so concurrent attempts
cannot all pass; the wait shown in Chinese. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.config import ConsoleConfig
from console import throttle
from console.models import LoginFailure

CONFIG = ConsoleConfig(
    login_window_minutes=15, login_failures_per_account=3, login_failures_per_address=5
)


async def _claim(sessions, clock, account, address, purpose=throttle.LOGIN):
    return await throttle.claim_attempt(sessions, purpose, account, address, clock.now(), CONFIG)


async def _fail(sessions, clock, account, address, times=1, purpose=throttle.LOGIN):
    """`times` wrong passwords, a minute apart (a claimed attempt left unsettled)."""
    for _ in range(times):
        assert (await _claim(sessions, clock, account, address, purpose)).wait is None
        clock.advance(minutes=1)


async def test_an_account_slows_down_the_address_it_fails_from_until_the_window_passes(
    sessions, clock
):
    await _fail(sessions, clock, "amy", "10.0.0.1", times=3)
    # Failures at t=0,1,2; now t=3: the first leaves the window at t=15.
    assert (await _claim(sessions, clock, "amy", "10.0.0.1")).wait == timedelta(minutes=12)
    clock.advance(minutes=12)
    assert (await _claim(sessions, clock, "amy", "10.0.0.1")).wait is None


async def test_one_attacker_address_cannot_lock_a_known_account_for_everyone(sessions, clock):
    await _fail(sessions, clock, "boss", "203.0.113.9", times=3)
    assert (await _claim(sessions, clock, "boss", "203.0.113.9")).wait is not None
    # The boss, signing in from the office, is not locked out by the attacker.
    assert (await _claim(sessions, clock, "boss", "10.0.0.5")).wait is None


async def test_an_address_failing_across_accounts_is_slowed_down(sessions, clock):
    for name in ("a", "b", "c", "d", "e"):
        await _fail(sessions, clock, name, "10.0.0.7")
    assert (await _claim(sessions, clock, "zed", "10.0.0.7")).wait is not None
    assert (await _claim(sessions, clock, "zed", "10.0.0.8")).wait is None


async def test_a_right_password_clears_the_failures_it_was_counted_with(sessions, clock):
    await _fail(sessions, clock, "amy", "10.0.0.1", times=2)
    claim = await _claim(sessions, clock, "amy", "10.0.0.1")
    async with sessions() as session, session.begin():
        await throttle.settle_attempt(session, claim)
    await _fail(sessions, clock, "amy", "10.0.0.1", times=3)  # three fresh tries again


async def test_confirmations_count_per_account_whatever_the_address(sessions, clock):
    await _fail(sessions, clock, "amy", "10.0.0.1", times=2, purpose=throttle.CONFIRM)
    await _fail(sessions, clock, "amy", "10.0.0.2", purpose=throttle.CONFIRM)
    refused = await _claim(sessions, clock, "amy", "10.0.0.3", throttle.CONFIRM)
    assert refused.wait is not None
    assert throttle.wait_message(refused.wait, throttle.CONFIRM).startswith("密码输入错误次数过多")
    # Sign-ins are counted apart: amy can still sign in.
    assert (await _claim(sessions, clock, "amy", "10.0.0.3")).wait is None


async def test_concurrent_attempts_cannot_all_pass_the_check(sessions, clock):
    # Check-then-act let 30 concurrent attempts through a limit of 3; counting a committed
    # attempt row first lets exactly the limit through, each on its own connection (as
    # several serve processes would).
    claims = await asyncio.gather(*(_claim(sessions, clock, "amy", "10.0.0.1") for _ in range(30)))
    assert sum(c.wait is None for c in claims) <= CONFIG.login_failures_per_account
    async with sessions() as session:
        counted = await session.scalar(select(func.count()).select_from(LoginFailure))
    assert counted == sum(c.wait is None for c in claims)  # refused attempts left no row


def test_wait_message_says_the_minutes_rounded_up():
    assert throttle.wait_message(timedelta(seconds=61)) == "登录失败次数过多，请 2 分钟后再试。"
    assert "1 分钟" in throttle.wait_message(timedelta(seconds=5))
