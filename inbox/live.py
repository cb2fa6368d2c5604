"""The change feed behind the inbox's live updates, shared by every ``serve`` process.

Each process runs one :class:`ChangeFeed`: while at least one browser listens, it polls the
database every ``interval`` seconds for conversations whose ``version`` moved (by
``updated_at``, with a little slack for clocks of other processes) and hands the changed
conversation ids to every listener's queue. A poll that finds nothing sends nothing. It
works across processes because the database is the only thing they share; it does not
keep history (a browser that reconnects reloads what it shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inbox.models import Conversation

log = logging.getLogger(__name__)
SLACK = timedelta(seconds=5)  # writes of other processes may commit a little later
MAX_LISTENERS = 200


async def changed_since(
    session: AsyncSession, since: datetime, seen: dict[int, int]
) -> list[tuple[int, int, datetime]]:
    """(id, version, updated_at) of conversations changed after `since` minus the slack
    whose version differs from `seen`."""
    rows = (
        await session.execute(
            select(Conversation.id, Conversation.version, Conversation.updated_at).where(
                Conversation.updated_at >= since - SLACK
            )
        )
    ).all()
    return [(i, v, at) for i, v, at in rows if seen.get(i) != v]


class ChangeFeed:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], now, interval: float = 0.5
    ) -> None:
        self.sessions, self.now, self.interval = sessions, now, interval
        self.listeners: set[asyncio.Queue[list[int]]] = set()
        self.seen: dict[int, int] = {}  # conversation id → version last reported
        self.stamps: dict[int, datetime] = {}  # conversation id → its updated_at then
        self.since: datetime | None = None
        self._task: asyncio.Task | None = None

    def listen(self) -> asyncio.Queue[list[int]]:
        if len(self.listeners) >= MAX_LISTENERS:
            raise OverflowError("too many inbox listeners")
        queue: asyncio.Queue[list[int]] = asyncio.Queue(maxsize=100)
        self.listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return queue

    def leave(self, queue: asyncio.Queue[list[int]]) -> None:
        self.listeners.discard(queue)

    async def poll(self) -> list[int]:
        """One poll: the ids of conversations that changed since the last one."""
        if self.since is None:
            self.since = self.now()
        async with self.sessions() as session:
            found = await changed_since(session, self.since, self.seen)
        for conv_id, version, at in found:
            self.seen[conv_id] = version
            self.since = max(self.since, at)
        for conv_id, _version, at in found:
            self.stamps[conv_id] = at
        if len(self.seen) > 1000:  # forget conversations that left the slack window
            cutoff = self.since - SLACK * 2
            old = [i for i, at in self.stamps.items() if at < cutoff]
            for conv_id in old:
                self.seen.pop(conv_id, None)
                self.stamps.pop(conv_id, None)
        return [conv_id for conv_id, _, _ in found]

    async def _run(self) -> None:
        # Baseline: what exists when the first browser starts listening is not news.
        with contextlib.suppress(Exception):
            await self.poll()
        while self.listeners:
            await asyncio.sleep(self.interval)
            try:
                changed = await self.poll()
            except Exception:  # the database is briefly away: try again next tick
                log.warning("inbox change poll failed", exc_info=True)
                continue
            if not changed:
                continue
            for queue in list(self.listeners):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(changed)

    async def close(self) -> None:
        self.listeners.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
