"""A value read from the database at most once per interval, per process and database.

For what a hot path (a reply to every message) would otherwise read on every call although
it changes rarely: the tier ladder an admin may save, the buyers with an open inbox
conversation. A change made in another process is seen within ``fresh_s``; the owner of a
value drops or updates it when it changes the value itself. It holds no meaning of the values.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """Values by database URL, each reloaded when older than `fresh_s` seconds."""

    def __init__(self, fresh_s: float = 1.0) -> None:
        self.fresh_s = fresh_s
        self._held: dict[str, tuple[float, T]] = {}

    async def get(self, database: str, load: Callable[[], Awaitable[T]]) -> T:
        """The value for `database`, calling `load` only when the one held is stale — so a
        caller that needs nothing else from the database opens no session."""
        now = time.monotonic()
        held = self._held.get(database)
        if held is None or now - held[0] >= self.fresh_s:
            held = (now, await load())
            self._held[database] = held
        return held[1]

    def peek(self, database: str) -> T | None:
        """The value held for `database`, stale or not (None when none was loaded)."""
        held = self._held.get(database)
        return None if held is None else held[1]

    def forget(self) -> None:
        """Drop every value: the next ``get`` loads."""
        self._held.clear()
