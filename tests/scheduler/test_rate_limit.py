"""The token bucket keeps a sender under its configured rate (time injected, no sleeping)."""

from __future__ import annotations

import asyncio

from scheduler.rate_limit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_sends_are_spaced_to_the_rate_after_the_burst():
    t = FakeTime()
    bucket = TokenBucket(10, burst=2, monotonic=t.monotonic, sleep=t.sleep)
    await asyncio.gather(*(bucket.acquire() for _ in range(12)))
    # 2 at once from the burst, then 10 more at 10/s.
    assert abs(t.now - 1.0) < 1e-9


async def test_an_idle_bucket_refills_only_up_to_its_burst():
    t = FakeTime()
    bucket = TokenBucket(100, burst=5, monotonic=t.monotonic, sleep=t.sleep)
    t.now = 60.0  # a minute idle does not bank 6,000 sends
    for _ in range(5):
        await bucket.acquire()
    assert t.now == 60.0
    await bucket.acquire()
    assert abs(t.now - 60.01) < 1e-9


async def test_a_new_rate_applies_from_now_and_trims_the_burst():
    t = FakeTime()
    bucket = TokenBucket(100, monotonic=t.monotonic, sleep=t.sleep)  # burst 10
    bucket.set_rate(20)  # burst 2: the 10 banked tokens shrink to 2
    await asyncio.gather(*(bucket.acquire() for _ in range(22)))
    assert abs(t.now - 1.0) < 1e-9  # 2 at once, then 20 at 20/s
