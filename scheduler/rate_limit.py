"""A token bucket: at most `rate` sends per second, with a small burst, shared by a sender's tasks.

WeChat rate-limits an account as a whole (45009 when exceeded). Each sender process has its
own bucket and sets it to its share of the configured account rate (``set_rate``, from the
number of live senders: ``scheduler/sender.py``). It does not count anything else (quotas
and caps are per buyer, in ``scheduler/sender.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        # A tenth of a second's worth by default: smooth, yet no stall per message.
        self._fixed_burst = burst
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.burst
        self._monotonic, self._sleep = monotonic, sleep
        self._last = monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on (tokens banked so far are kept, up to the new burst)."""
        self._refill()
        self.rate = rate
        self.burst = self._fixed_burst if self._fixed_burst is not None else max(1.0, rate / 10)
        self.tokens = min(self.tokens, self.burst)

    async def acquire(self) -> None:
        """Wait until one send is allowed (waiters are served in arrival order)."""
        async with self._lock:
            self._refill()
            # The epsilon keeps float rounding from leaving 0.999… tokens forever.
            while self.tokens < 1 - 1e-9:
                await self._sleep((1 - self.tokens) / self.rate)
                self._refill()
            self.tokens -= 1
