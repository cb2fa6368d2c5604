"""The simulated account's mass sends: the platform's rules for ``message/mass/send``.

It refuses what the platform refuses: fewer than 2 or more than 10,000 openids (40130), a
text over 300 characters (45002), a ``clientmsgid`` already used within 24 hours (45065; within
a minute, 45066), and on a subscription account more than ``mass_per_day`` sends a day
(45028). On a service account each follower receives at most 4 mass messages a calendar month
(Beijing): the 5th is accepted but not delivered, and counted as filtered. Each accepted call
becomes a job with a ``msg_id``; its outcome (``TotalCount``, ``FilterCount``, ``SentCount``,
``ErrorCount``) is what WeChat reports in the ``MASSSENDJOBFINISH`` event: listed at ``GET
/_sim/mass/jobs`` and handed to every ``on_finish`` listener (the demo posts it to the
webhook). Delivered messages join the simulator's message log (kind ``mass``), so a test sees
exactly who got what, and how often.

This module holds the state and rules; the endpoints are ``fake_mass_api.py``'s.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
MASS_MIN, MASS_MAX, TEXT_MAX = 2, 10_000, 300
CLIENT_ID_KEPT = timedelta(hours=24)
RETRY_TOO_SOON = timedelta(minutes=1)
ERRMSG = {
    40130: "invalid openid list size, at least two openid",
    45002: "content size out of limit",
    45028: "has no masssend quota",
    45065: "clientmsgid exist",
    45066: "clientmsgid retrying too fast",
}


class FakeMass:
    """Mass sends of the simulated account: jobs, client ids, monthly and daily counts."""

    def __init__(self, account_type: str = "service", per_month: int = 4, per_day: int = 1):
        self.account_type, self.per_month, self.per_day = account_type, per_month, per_day
        self.jobs: list[dict[str, Any]] = []
        self.client_ids: dict[str, datetime] = {}
        self.monthly: Counter[tuple[str, str]] = Counter()  # (openid, month) → delivered
        self.daily: Counter[str] = Counter()  # platform day → calls (subscription accounts)
        self.previews: list[dict[str, Any]] = []
        self.on_finish: list[Callable[[dict[str, Any]], Awaitable[None]]] = []
        self._msg_ids = itertools.count(1000000001)

    def check(self, openids: Any, content: Any, clientmsgid: Any, now: datetime) -> int:
        """The errcode WeChat answers (0: accepted)."""
        if not isinstance(openids, list) or not MASS_MIN <= len(openids) <= MASS_MAX:
            return 40130
        if not all(isinstance(o, str) and o for o in openids):
            return 40003
        if not isinstance(content, str) or not content or len(content) > TEXT_MAX:
            return 45002
        if clientmsgid is not None:
            if not isinstance(clientmsgid, str) or not 0 < len(clientmsgid) <= 64:
                return 47001
            seen = self.client_ids.get(clientmsgid)
            if seen is not None and now - seen < RETRY_TOO_SOON:
                return 45066
            if seen is not None and now - seen < CLIENT_ID_KEPT:
                return 45065
        day = now.astimezone(BEIJING).date().isoformat()
        if self.account_type == "subscription" and self.daily[day] >= self.per_day:
            return 45028
        return 0

    def accept(
        self, openids: list[str], content: str, clientmsgid: str | None, now: datetime
    ) -> tuple[dict[str, Any], list[str]]:
        """Record an accepted call: the job and the openids it delivered to."""
        if clientmsgid:
            self.client_ids[clientmsgid] = now
        local = now.astimezone(BEIJING)
        self.daily[local.date().isoformat()] += 1
        month = local.strftime("%Y-%m")
        delivered, filtered = [], 0
        for openid in dict.fromkeys(openids):  # WeChat sends once per distinct openid
            if self.account_type == "service" and self.monthly[(openid, month)] >= self.per_month:
                filtered += 1
                continue
            self.monthly[(openid, month)] += 1
            delivered.append(openid)
        job = {
            "msg_id": next(self._msg_ids),
            "clientmsgid": clientmsgid,
            "content": content,
            "status": "send success",
            "total": len(openids),
            "filtered": filtered + len(openids) - len(dict.fromkeys(openids)),
            "sent": len(delivered),
            "errors": 0,
            "time": now.isoformat(),
        }
        self.jobs.append(job)
        return job, delivered


def finish_event_fields(job: dict[str, Any]) -> dict[str, Any]:
    """The fields of the ``MASSSENDJOBFINISH`` event WeChat posts for `job`."""
    return {
        "MsgID": job["msg_id"],
        "Status": job["status"],
        "TotalCount": job["total"],
        "FilterCount": job["filtered"],
        "SentCount": job["sent"],
        "ErrorCount": job["errors"],
    }
