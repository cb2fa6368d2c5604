"""The livestream schedule as 直播 reads it: held at most a second per process.

Every message asking about a livestream needs the livestream campaigns (is one on air? which
is next?). Reading them opened the message's session — several hops to the database driver's
thread — and made 直播 the slowest path of the bot under load (``bench/webhook.py --mix``).
They change rarely, so they are held like the tier ladder (``bot/recent.py``): a status set
through the ORM in this process (scheduling, pausing, cancelling, a new campaign) drops the
held schedule at once; a change made by another process is seen within a second.

It holds plain values, never ORM rows, and decides nothing: what is on air is
``handlers/live.py``'s question, what is next ``scheduler.campaigns.next_of``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.recent import Recent
from scheduler.models import DONE, LIVESTREAM, RUNNING, SCHEDULED, Campaign


@dataclass(frozen=True)
class Livestream:
    """What 直播 reads of a livestream campaign (the fields a Campaign row has by these names)."""

    id: int
    status: str
    params: dict[str, Any]


SCHEDULE: Recent[list[Livestream]] = Recent(fresh_s=1.0)


async def livestreams(database: str, session: Callable[[], AsyncSession]) -> list[Livestream]:
    """The livestream campaigns scheduled, running or done (a handful: they are scheduled a
    few at a time). `session` is asked for only when the held list is stale."""

    async def load() -> list[Livestream]:
        rows = await session().execute(
            select(Campaign.id, Campaign.status, Campaign.params).where(
                Campaign.kind == LIVESTREAM, Campaign.status.in_((SCHEDULED, RUNNING, DONE))
            )
        )
        return [Livestream(i, status, dict(params or {})) for i, status, params in rows]

    return await SCHEDULE.get(database, load)


@event.listens_for(Campaign.status, "set")
def _status_set(_target: Campaign, _value: Any, _old: Any, _initiator: Any) -> None:
    # Any campaign's status set in this process: the next ask reads the schedule again.
    SCHEDULE.forget()
