"""Per-buyer turns: one message of a buyer at a time in this process, in arrival order.

Two messages of one buyer sent close together (a form answer and a correction) must not be
handled at once: the second would read the buyer row before the first's writes land. Each
buyer with a message in flight has an ``asyncio.Lock`` and a count of waiters; the entry is
dropped when the last one leaves, so the table holds only buyers being handled right now.

Across processes the per-buyer order is the form store's row lock (``bot/dialog/forms/store.py``);
this module does not coordinate processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class BuyerTurns:
    """The buyers with a message in flight in this process, each with its lock."""

    def __init__(self) -> None:
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def __contains__(self, openid: str) -> bool:
        """Whether a message of this buyer is being handled (or waiting) right now."""
        return openid in self._turns

    @contextlib.asynccontextmanager
    async def turn(self, openid: str) -> AsyncIterator[bool]:
        """One message of a buyer at a time in this process, in arrival order; yields
        whether an earlier message of the buyer was still being handled."""
        lock, waiting = self._turns.setdefault(openid, (asyncio.Lock(), [0]))
        waiting[0] += 1
        busy = lock.locked()
        try:
            async with lock:
                yield busy
        finally:
            waiting[0] -= 1
            if not waiting[0]:
                del self._turns[openid]
