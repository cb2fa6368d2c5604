"""Sending a sender's mass-send rows: one ``message/mass/send`` per campaign step and batch.

The sender (``scheduler/sender.py``) decides per row; rows it gives the mass channel come
here together. A mass send carries one text to everybody in it, so the step's message is
rendered for no buyer in particular (no name, no tier: the template's own wording for an
unknown buyer), once per step. Rows of one step are sent in calls of at most 10,000 openids;
WeChat refuses fewer than 2, so a row left alone goes back to pending to join the step's next
rows, unless it was already the first of the batch (nobody is left to join: skipped
``mass_single``). A text longer than 300 characters fails its rows (``mass_too_long``; the
console refuses such campaigns before scheduling). A subscription account's day allows
``[wechat] mass_per_day`` calls in all: beyond that rows are skipped ``mass_quota``. Every
call counts against ``mass_calls_per_day`` (the platform's 100 a day, in ``wechat_api_calls``);
past it rows wait for the next Beijing day (reason ``mass_calls``).

Exactly once: each call is a ``mass_sends`` row created with its rows marked ``sending``
(``scheduler/mass_sends.py``). A timeout or busy answer retries later with the same
clientmsgid, and so does the sweep after a crash; WeChat answers a repeated clientmsgid with
"already sent", which counts as sent. This module holds no SQL of its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.wechat.channels import MASS, mass_text_problem
from bot.wechat.client import WeChatAPIError
from bot.wechat.mass import MASS_MAX, NO_QUOTA, mass_send
from bot.wechat.quota import WECHAT_DAY, take_call
from scheduler.delivery import IN_FLIGHT, BuyerState, Claimed, Result
from scheduler.mass_sends import (
    RESEND_WITHIN,
    add_allowance,
    batches,
    restart_batch,
    sends_today,
    settle_batch,
    start_batch,
)
from scheduler.models import (
    FAILED,
    MASS_FAILED,
    MASS_SENT,
    PENDING,
    SENT,
    SKIPPED,
    UNCERTAIN,
    Campaign,
    MassSend,
)


class Sender(Protocol):
    """What this module uses of the sender (``scheduler/sender.py``), which imports it."""

    sessionmaker: Any
    worker_id: str
    api: Any
    clock: Any
    bucket: Any
    messages: Any
    account: Any

    @property
    def steps_by_id(self) -> dict[int, Any]: ...

    def retry_result(
        self, row: Claimed, channel: str, code: int | None, attempts: int
    ) -> Result: ...


log = logging.getLogger(__name__)

RETRYABLE = frozenset({-1, 45009})
MASS_API = "mass/send"  # its calls a day, in wechat_api_calls
# A buyer nobody knows: what a mass send says to everybody.
ANYONE = BuyerState(0, True, False, None, None, None, None, None, None, None, None)

MassRow = tuple[Claimed, Campaign, bool]  # the row, its campaign, whether the buyer RSVP'd


async def send_mass_rows(
    sender: Sender, rows: list[MassRow], now: datetime, first_id: int
) -> list[Result]:
    """Send the batch's mass rows; their results (`first_id`: the batch's first row)."""
    results: list[Result] = []
    retries: dict[int, list[Claimed]] = defaultdict(list)
    fresh: dict[tuple[int, int, bool], list[Claimed]] = defaultdict(list)
    campaigns: dict[int, Campaign] = {}
    for row, campaign, rsvped in rows:
        campaigns[campaign.id] = campaign
        if row.mass_send_id is not None:
            retries[row.mass_send_id].append(row)
        else:
            fresh[(campaign.id, row.step_id, rsvped)].append(row)
    account = sender.account
    if retries:
        async with sender.sessionmaker() as session:
            known = await batches(session, set(retries))
        for mass_id, group in retries.items():
            mass = known.get(mass_id)
            if mass is None or now - mass.created_at > RESEND_WITHIN:
                # WeChat no longer remembers the clientmsgid: a resend could arrive twice.
                results += [Result(r.id, UNCERTAIN, IN_FLIGHT, MASS, None, r.attempts)
                            for r in group]  # fmt: skip
                continue
            async with sender.sessionmaker() as session, session.begin():
                if not await take_call(session, MASS_API, account.mass_calls_per_day, now):
                    results += _tomorrow(group, now)
                    continue
                started = await restart_batch(session, sender.worker_id, [r.id for r in group])
            results += await _call(sender, mass, [r for r in group if r.id in started])
    for (campaign_id, step_id, rsvped), group in fresh.items():
        campaign = campaigns[campaign_id]
        step = sender.steps_by_id[step_id]
        try:
            text = sender.messages.render(campaign, step, ANYONE, rsvped=rsvped)
        except Exception as exc:  # a bad per-campaign template fails its rows, not the sender
            log.warning("campaign %s: mass message did not render: %s", campaign_id, exc)
            results += [Result(r.id, FAILED, "render_error", MASS, None, r.attempts + 1)
                        for r in group]  # fmt: skip
            continue
        if mass_text_problem(text):
            results += [Result(r.id, FAILED, "mass_too_long", MASS, None, r.attempts + 1)
                        for r in group]  # fmt: skip
            continue
        if len(group) < 2:
            row = group[0]
            if row.id != first_id:  # the step's next rows may join it in the next batch
                results.append(Result(row.id, PENDING, attempts=row.attempts))
            else:
                results.append(Result(row.id, SKIPPED, "mass_single", attempts=row.attempts))
            continue
        for start in range(0, len(group), MASS_MAX):
            chunk = group[start : start + MASS_MAX]
            if len(chunk) < 2:  # 10,001: the last one waits for the step's next rows
                results.append(Result(chunk[0].id, PENDING, attempts=chunk[0].attempts))
                continue
            async with sender.sessionmaker() as session, session.begin():
                if not account.mass_per_buyer and (
                    await sends_today(session, now) >= account.mass_per_day
                ):
                    results += [Result(r.id, SKIPPED, "mass_quota", attempts=r.attempts)
                                for r in chunk]  # fmt: skip
                    continue
                if not await take_call(session, MASS_API, account.mass_calls_per_day, now):
                    results += _tomorrow(chunk, now)
                    continue
                mass, started = await start_batch(
                    session,
                    sender.worker_id,
                    campaign_id=campaign_id,
                    step_id=step_id,
                    rows={r.id: r.buyer_id for r in chunk},
                    text=text,
                    now=now,
                    count_allowance=account.mass_per_buyer,
                )
            results += await _call(sender, mass, [r for r in chunk if r.id in started])
    return results


def _tomorrow(rows: list[Claimed], now: datetime) -> list[Result]:
    """The day's mass/send calls are spent: the rows wait for the platform's next day."""
    local = now.astimezone(WECHAT_DAY)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [Result(r.id, PENDING, "mass_calls", attempts=r.attempts, next_attempt_at=midnight)
            for r in rows]  # fmt: skip


async def _call(sender: Sender, mass: MassSend, rows: list[Claimed]) -> list[Result]:
    """One mass/send call for `rows` (already marked sending with `mass`)."""
    if not rows:
        return []
    await sender.bucket.acquire()
    try:
        answer = await mass_send(sender.api, [r.openid for r in rows], mass.text,
                                 mass.client_msg_id)  # fmt: skip
    except WeChatAPIError as exc:
        code = exc.errcode
        if code is None or code in RETRYABLE:  # unknown outcome: retried with the same id
            return [sender.retry_result(r, MASS, code, r.attempts + 1) for r in rows]
        async with sender.sessionmaker() as session, session.begin():
            await settle_batch(session, mass.id, MASS_FAILED, errcode=code)
            if sender.account.mass_per_buyer:  # refused: nobody used an allowance
                await add_allowance(session, [r.buyer_id for r in rows], mass.created_at, -1)
        if code == NO_QUOTA:
            return [Result(r.id, SKIPPED, "mass_quota", MASS, code, r.attempts + 1) for r in rows]
        return [Result(r.id, FAILED, "errcode", MASS, code, r.attempts + 1) for r in rows]
    except Exception:
        log.exception("sender %s: unexpected error in mass send %s", sender.worker_id, mass.id)
        return [Result(r.id, UNCERTAIN, "send_error", MASS, None, r.attempts + 1) for r in rows]
    async with sender.sessionmaker() as session, session.begin():
        await settle_batch(session, mass.id, MASS_SENT, msg_id=answer.msg_id)
    sent_at = sender.clock.now()
    return [Result(r.id, SENT, None, MASS, None, r.attempts + 1, sent_at=sent_at) for r in rows]
