"""Sign-in throttling per account and per address, in the database, with the wait shown."""

from __future__ import annotations

from datetime import timedelta

from bot.config import ConsoleConfig
from console import throttle

CONFIG = ConsoleConfig(
    login_window_minutes=15, login_failures_per_account=3, login_failures_per_address=5
)


async def _fail(sessions, clock, account, address, times=1):
    async with sessions() as session, session.begin():
        for _ in range(times):
            await throttle.record_failure(session, account, address, clock.now())
            clock.advance(minutes=1)


async def _wait(sessions, clock, account, address):
    async with sessions() as session:
        return await throttle.login_wait(session, account, address, clock.now(), CONFIG)


async def test_account_locks_after_its_failures_until_the_oldest_leaves_the_window(sessions, clock):
    await _fail(sessions, clock, "amy", "10.0.0.1", times=2)
    assert await _wait(sessions, clock, "amy", "10.0.0.9") is None
    await _fail(sessions, clock, "amy", "10.0.0.2")
    # Failures at t=0,1,2; now t=3: the first leaves the window at t=15.
    assert await _wait(sessions, clock, "amy", "10.0.0.9") == timedelta(minutes=12)
    assert await _wait(sessions, clock, "bob", "10.0.0.9") is None  # other accounts unaffected
    clock.advance(minutes=12)
    assert await _wait(sessions, clock, "amy", "10.0.0.9") is None


async def test_address_locks_after_failures_across_accounts(sessions, clock):
    for name in ("a", "b", "c", "d", "e"):
        await _fail(sessions, clock, name, "10.0.0.7")
    assert await _wait(sessions, clock, "zed", "10.0.0.7") is not None
    assert await _wait(sessions, clock, "zed", "10.0.0.8") is None


async def test_success_clears_the_accounts_failures(sessions, clock):
    await _fail(sessions, clock, "amy", "10.0.0.1", times=3)
    async with sessions() as session, session.begin():
        await throttle.clear_failures(session, "amy")
    assert await _wait(sessions, clock, "amy", "10.0.0.1") is None


def test_wait_message_says_the_minutes_rounded_up():
    assert throttle.wait_message(timedelta(seconds=61)) == "登录失败次数过多，请 2 分钟后再试。"
    assert "1 分钟" in throttle.wait_message(timedelta(seconds=5))
