"""WeChat's report of a mass send (the ``MASSSENDJOBFINISH`` event) fills the campaign report.

WeChat posts the event when a ``message/mass/send`` job is done, with its ``MsgID`` and the
job's counts: total, filtered (not delivered: over the follower's monthly allowance, no longer
following …), sent and errors. The counts are stored on the campaign's mass send with that
msg_id (``scheduler/mass_sends.py``); a job Laoke did not send (from the platform's own
backend) is ignored. Nothing is answered: the event comes from the platform, not a buyer.
"""

from __future__ import annotations

import logging

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from scheduler.mass_sends import record_finish

router = Router("mass_reports")
log = logging.getLogger(__name__)


@router.event("masssendjobfinish")
async def mass_send_finished(ctx: Context) -> Reply:
    event = ctx.message
    found = await record_finish(
        ctx.session,
        str(event.id),
        status=str(event.status or ""),
        total=int(event.total_count or 0),
        filtered=int(event.filter_count or 0),
        sent=int(event.sent_count or 0),
        errors=int(event.error_count or 0),
        now=ctx.services.clock.now(),
    )
    if not found:
        log.info("mass send %s finished: not one of ours (sent from the platform?)", event.id)
    return Reply.nothing()
