"""The sender: claims delivery batches, picks each buyer's channel, sends, records the results.

Per claimed row, in order: the campaign must still be running (pause and cancel take effect
at the next batch; rows of a paused campaign go back to pending); unsubscribed and opted-out
buyers are skipped (a buyer who RSVP'd still gets the start reminder they asked for); unless
the campaign is all-day, per-buyer frequency caps across campaigns apply (quiet hours are
applied when claiming); then the channel, by WeChat's rule for every sender
(``bot/wechat/channels.py``): campaigns are marketing — a customer-service message inside the
buyer's 48-hour window while fewer than 5 have been sent since their last action, else a mass
send while the buyer's monthly allowance lasts (sent together, ``scheduler/mass_delivery.py``),
else skipped ``mass_quota``; never a template message. Only a start reminder the buyer asked
for (RSVP) is a service notice, which may fall back to the campaign's template message.

Sends run concurrently (``concurrency`` tasks) under a token bucket. Each row is marked
``sending`` right before its request starts (the marks of rows starting together share one
statement), so a crash leaves at most ``concurrency`` rows in doubt; the rest of the batch
goes back to pending (``scheduler/delivery.py``). ``rate_limit_per_s`` is
the account's rate, as WeChat counts it: each sender takes an equal share of it, by the
number of senders with a live lease, counted at every heartbeat.
-1, 45009 and timeouts are retried later with exponential backoff up to ``max_retries``
(the API client has already retried -1/45009 briefly and refreshed a rejected token); 45015
and 45047 fall back to the template channel when there is one; other codes fail the row.
A timeout is retried because the issue asks for it, although a request that timed out after
WeChat received it can then arrive twice; that is the one duplicate this design admits.

This module does not fan out (``scheduler/loop.py``) or hold SQL (``scheduler/delivery.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialog.context import Services
from bot.leases import acquire_lease, release_lease
from bot.logs import Outage
from bot.wechat.channels import (
    MARKETING,
    MASS,
    SERVICE,
    Account,
    closed_reason,
    route,
    window_closed,
)
from bot.wechat.client import WeChatAPIError
from scheduler.delivery import (
    CLAIM_TIMEOUT,
    SENDER_LEASE_TTL,
    BuyerState,
    Claimed,
    Result,
    claim_deliveries,
    live_senders,
    load_buyers,
    mark_in_flight_uncertain,
    mark_sending,
    record_results,
)
from scheduler.loop import process_id
from scheduler.mass_delivery import send_mass_rows
from scheduler.mass_sends import allowance_used
from scheduler.messages import CampaignMessages
from scheduler.models import (
    CANCELLED,
    CUSTOM,
    FAILED,
    LIVESTREAM,
    PENDING,
    RUNNING,
    SENT,
    SKIPPED,
    TEMPLATE,
    UNCERTAIN,
    Campaign,
    CampaignStep,
    Rsvp,
)
from scheduler.rate_limit import TokenBucket

log = logging.getLogger(__name__)

RETRYABLE = frozenset({-1, 45009})
UNSUBSCRIBED = 43004
# WeChat refused a customer-service message (45015/45047) our records allowed: the row is
# decided again without the window, so marketing goes by mass send with the next batch.
WINDOW_CLOSED = "window_closed"


def in_quiet_hours(now: datetime, start: time | None, end: time | None, tz: ZoneInfo) -> bool:
    """Whether local time is inside the quiet period (which may span midnight)."""
    if start is None or end is None or start == end:
        return False
    t = now.astimezone(tz).time()
    return start <= t < end if start < end else (t >= start or t < end)


class Sender:
    """One process's sender; ``run_once`` handles one batch, ``run`` loops until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        services: Services,
        *,
        worker_id: str | None = None,
        poll_s: float = 0.5,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.services = services
        self.api = services.api
        self.clock = services.clock
        self.cfg = services.config.campaigns
        self.metrics = services.metrics
        self.worker_id = worker_id or process_id("sender")
        self.poll_s = poll_s
        self.tz = ZoneInfo(self.cfg.timezone)
        self.bucket = TokenBucket(self.cfg.rate_limit_per_s)
        self.messages = CampaignMessages.from_services(services)
        self.account = Account.of(services.config.wechat)
        self.batch = self._batch_for(self.cfg.rate_limit_per_s)
        self._outage = Outage(log, f"sender {self.worker_id}: batch")
        self._steps: dict[int, CampaignStep] = {}
        self._starting: dict[int, asyncio.Future[bool]] = {}  # rows waiting for their mark
        self._done: list[Result] = []  # results written with the next mark
        self._written: set[int] = set()  # rows of this batch whose result is written
        self._marker: asyncio.Task[None] | None = None

    # --- liveness -------------------------------------------------------------------------
    async def heartbeat(self) -> None:
        """Renew this sender's lease (rows it holds stay its own while the lease is live) and
        take its share of the account's rate limit.

        A sender that died without releasing its lease still counts until the lease lapses
        (at most ``SENDER_LEASE_TTL``): the others send slower for that long, never faster.
        """
        now = self.clock.now()
        await acquire_lease(
            self.sessionmaker, self.worker_id, self.worker_id, now, SENDER_LEASE_TTL
        )
        async with self.sessionmaker() as session:
            self._share(max(1, await live_senders(session, now)))

    def _share(self, senders: int) -> None:
        rate = self.cfg.rate_limit_per_s / senders
        if rate != self.bucket.rate:
            self.bucket.set_rate(rate)
            self.batch = self._batch_for(rate)

    def _batch_for(self, rate: float) -> int:
        # A batch is a few seconds of sending, so pause/cancel act quickly and a crash
        # leaves few rows uncertain.
        return max(1, min(self.cfg.batch_size, int(rate * 5)))

    async def settle_dead_senders(self) -> int:
        """Mark rows left in flight by senders that died as uncertain (run at start)."""
        async with self.sessionmaker() as session, session.begin():
            return await mark_in_flight_uncertain(session, self.clock.now(), self.cfg)

    # --- one batch ------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many rows it handled."""
        await self.heartbeat()
        now = self.clock.now()
        quiet = in_quiet_hours(now, self.cfg.quiet_start, self.cfg.quiet_end, self.tz)
        async with self.sessionmaker() as session, session.begin():
            claimed = await claim_deliveries(session, self.worker_id, now, self.batch, quiet=quiet)
        if not claimed:
            return 0
        # If this raises (or the process dies) the rows stay claimed or sending: the sweep
        # marks those sending uncertain (they may have been sent) and returns the rest to
        # pending.
        self._written.clear()
        results = await self._handle(claimed, now, quiet)
        self._done.clear()  # not left for the next batch's first mark: written just below
        await self._record([r for r in results if r.id not in self._written])
        self._count(results)
        return len(claimed)

    async def _record(self, results: list[Result]) -> None:
        """Write the batch's results, retrying while the database is unavailable.

        The messages are out: giving up would leave their rows claimed until the sweep marks
        them uncertain, although this process knows exactly what happened. So it keeps trying
        (backing off to 5 s) for as long as a claim may live (``CLAIM_TIMEOUT``), holding off
        new batches meanwhile; only then are the results let go.
        """
        delay = 0.2
        give_up = asyncio.get_running_loop().time() + CLAIM_TIMEOUT.total_seconds()
        while True:
            try:
                async with self.sessionmaker() as session, session.begin():
                    await record_results(session, self.worker_id, results)
                return
            except Exception as exc:
                if asyncio.get_running_loop().time() + delay > give_up:
                    raise
                log.warning(
                    "sender %s: %d results not recorded yet (%s: %s); retrying in %.1fs",
                    self.worker_id,
                    len(results),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _handle(self, claimed: list[Claimed], now: datetime, quiet: bool) -> list[Result]:
        async with self.sessionmaker() as session:
            campaigns = {
                c.id: c
                for c in await session.scalars(
                    select(Campaign).where(Campaign.id.in_({r.campaign_id for r in claimed}))
                )
            }
            missing = {r.step_id for r in claimed} - self._steps.keys()
            if missing:
                for step in await session.scalars(
                    select(CampaignStep).where(CampaignStep.id.in_(missing))
                ):
                    self._steps[step.id] = step
            capped = (self.cfg.cap_per_day or self.cfg.cap_per_week) and any(
                not campaigns[r.campaign_id].all_day and not r.requested for r in claimed
            )
            buyer_ids = sorted({r.buyer_id for r in claimed})
            buyers = await load_buyers(session, buyer_ids, now, caps=bool(capped))
            rsvps = await self._rsvps(session, claimed, campaigns)
            mass_used = (
                await allowance_used(session, buyer_ids, now) if self.account.mass_per_buyer else {}
            )
        results: list[Result] = []
        sends: list[tuple[Claimed, Campaign, BuyerState, str, bool]] = []
        mass: list[tuple[Claimed, Campaign, bool]] = []
        for row in claimed:
            campaign = campaigns[row.campaign_id]
            outcome = self._decide(row, campaign, buyers.get(row.buyer_id), now, quiet, mass_used)
            rsvped = (row.campaign_id, row.buyer_id) in rsvps
            if isinstance(outcome, Result):
                results.append(outcome)
            elif outcome == MASS:
                mass.append((row, campaign, rsvped))
            else:
                sends.append((row, campaign, buyers[row.buyer_id], outcome, rsvped))
        if mass:
            results += await send_mass_rows(self, mass, now, claimed[0].id)
        if sends:
            # `concurrency` long-lived tasks pull jobs: far cheaper than a task per message.
            queue = deque(sends)

            async def worker() -> None:
                while queue:
                    if (result := await self._send(*queue.popleft())) is not None:
                        results.append(result)
                        self._done.append(result)  # written with the next row's start

            await asyncio.gather(*(worker() for _ in range(min(self.cfg.concurrency, len(queue)))))
        return results

    async def _rsvps(
        self, session: AsyncSession, claimed: list[Claimed], campaigns: dict[int, Campaign]
    ) -> set[tuple[int, int]]:
        """(campaign, buyer) pairs of this batch's livestream rows whose buyer said 预约:
        their announcement and reminders do not ask them to reserve again."""
        live = {c.id for c in campaigns.values() if c.kind == LIVESTREAM}
        rows = [r for r in claimed if r.campaign_id in live and not r.requested]
        if not rows:
            return set()
        found = await session.execute(
            select(Rsvp.campaign_id, Rsvp.buyer_id).where(
                Rsvp.campaign_id.in_({r.campaign_id for r in rows}),
                Rsvp.buyer_id.in_({r.buyer_id for r in rows}),
            )
        )
        return {(c, b) for c, b in found}

    def _decide(
        self,
        row: Claimed,
        campaign: Campaign,
        buyer: BuyerState | None,
        now: datetime,
        quiet: bool,
        mass_used: dict[int, int],
    ) -> Result | str:
        """A result for rows that are not sent now, else the channel to send on."""
        attempts = row.attempts
        if campaign.status == CANCELLED:  # cancelled while this batch was being claimed
            return Result(row.id, SKIPPED, "cancelled", attempts=attempts)
        if campaign.status != RUNNING:  # paused: back to pending, sent after resume
            return Result(row.id, PENDING, attempts=attempts)
        if buyer is None:  # erased (删除我的资料) since fan-out
            return Result(row.id, SKIPPED, "no_buyer", attempts=attempts)
        if row.mass_send_id is not None:  # an interrupted mass send: repeat it, same id
            return MASS
        if not buyer.subscribed:
            return Result(row.id, SKIPPED, "unsubscribed", attempts=attempts)
        if buyer.opted_out and not row.requested:
            return Result(row.id, SKIPPED, "opted_out", attempts=attempts)
        if not campaign.all_day and not row.requested:
            if quiet:
                return Result(row.id, PENDING, attempts=attempts)
            if self.cfg.cap_per_day and len(buyer.day - {campaign.id}) >= self.cfg.cap_per_day:
                return Result(row.id, SKIPPED, "cap_day", attempts=attempts)
            if self.cfg.cap_per_week and len(buyer.week - {campaign.id}) >= self.cfg.cap_per_week:
                return Result(row.id, SKIPPED, "cap_week", attempts=attempts)
        used = mass_used.get(buyer.id, 0)
        allowed = route(
            None if row.reason == WINDOW_CLOSED else buyer.last_interaction_at,
            now,
            kind=SERVICE if row.requested else MARKETING,
            has_template=bool(campaign.template_id),
            custom_used=buyer.custom_used,
            mass_left=used < self.account.mass_per_follower_month
            or not self.account.mass_per_buyer,
            account=self.account,
        )
        if not allowed.channels:
            return Result(row.id, SKIPPED, allowed.skip_reason, attempts=attempts)
        channel = allowed.channels[0]
        if channel == CUSTOM:
            buyer.custom_used += 1  # the next row for this buyer in the batch sees it
        elif channel == MASS:
            mass_used[buyer.id] = used + 1  # … and the allowance it uses
        buyer.day.add(campaign.id)
        buyer.week.add(campaign.id)
        return channel

    # --- marking a row's request as started ------------------------------------------------
    async def _start(self, row_id: int) -> bool:
        """Mark the row ``sending`` before its request; False when it is no longer this
        sender's (raises when the mark cannot be written)."""
        started = asyncio.get_running_loop().create_future()
        self._starting[row_id] = started
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_started())
        return await started

    async def _mark_started(self) -> None:
        # Rows that ask while a mark is being written are marked together in the next one,
        # and the results of the rows finished since are written with it: so a task's row is
        # `sending` only until its next row starts, and a crash finds at most `concurrency`.
        while self._starting:
            batch, self._starting = self._starting, {}
            done, self._done = self._done, []
            try:
                async with self.sessionmaker() as session, session.begin():
                    if done:
                        await record_results(session, self.worker_id, done)
                    started = await mark_sending(session, self.worker_id, list(batch))
            except Exception as exc:  # `done` is written with the batch's other results
                for future in batch.values():
                    future.set_exception(exc)
                continue
            self._written.update(r.id for r in done)
            for row_id, future in batch.items():
                future.set_result(row_id in started)

    async def _send(
        self, row: Claimed, campaign: Campaign, buyer: BuyerState, channel: str, rsvped: bool
    ) -> Result | None:
        """Send one row; None when it is no longer this sender's (not sent, no result)."""
        attempts = row.attempts + 1
        step = self._steps[row.step_id]
        try:
            text = self.messages.render(campaign, step, buyer, rsvped=rsvped)
        except Exception as exc:  # a bad per-campaign template fails its rows, not the sender
            log.warning("campaign %s: message did not render: %s", campaign.id, exc)
            return Result(row.id, FAILED, "render_error", attempts=attempts)
        started = False
        while True:
            await self.bucket.acquire()
            if not started:
                try:
                    if not await self._start(row.id):
                        return None
                except Exception as exc:  # not sent: back to pending with the batch's results
                    log.warning("sender %s: row %s not started: %s", self.worker_id, row.id, exc)
                    return Result(row.id, PENDING, attempts=row.attempts)
                started = True
            try:
                if channel == CUSTOM:
                    await self.api.send_text(row.openid, text)
                else:
                    data, url = self.messages.template_data(campaign, text)
                    data, url = self.services.template_messages.data(
                        campaign.kind, {"content": text, "title": campaign.params.get("title") or ""},
                        data, url,
                    )  # fmt: skip
                    await self.api.send_template(row.openid, campaign.template_id, data, url)
            except WeChatAPIError as exc:
                code = exc.errcode
                if window_closed(code) and channel == CUSTOM:
                    if campaign.template_id and row.requested and self.account.templates:
                        channel = TEMPLATE  # our window bookkeeping was stale; WeChat knows
                        continue
                    if not row.requested:  # marketing: the mass send is next, with the batch
                        return Result(row.id, PENDING, WINDOW_CLOSED, channel, code, row.attempts)
                    return Result(row.id, SKIPPED, closed_reason(code), channel, code, attempts)
                if code == UNSUBSCRIBED:
                    return Result(row.id, SKIPPED, "unsubscribed", channel, code, attempts)
                if code is None or code in RETRYABLE:
                    return self._retry(row, channel, code, attempts)
                return Result(row.id, FAILED, "errcode", channel, code, attempts)
            except Exception:
                # Not an answer from WeChat and not a known network failure: we cannot tell
                # whether it was sent, so it is reported, never resent.
                log.exception("sender %s: unexpected error sending row %s", self.worker_id, row.id)
                return Result(row.id, UNCERTAIN, "send_error", channel, None, attempts)
            return Result(row.id, SENT, None, channel, None, attempts, sent_at=self.clock.now())

    @property
    def steps_by_id(self) -> dict[int, CampaignStep]:
        """The steps of the rows being handled (loaded by the batch)."""
        return self._steps

    def retry_result(self, row: Claimed, channel: str, code: int | None, attempts: int) -> Result:
        """The row is tried again later (backing off), or failed past ``max_retries``."""
        return self._retry(row, channel, code, attempts)

    def _retry(self, row: Claimed, channel: str, code: int | None, attempts: int) -> Result:
        reason = "timeout" if code is None else "errcode"
        if attempts > self.cfg.max_retries:
            return Result(row.id, FAILED, reason, channel, code, attempts)
        delay = self.cfg.retry_backoff_s * (2 ** (attempts - 1))
        next_at = self.clock.now() + timedelta(seconds=delay)
        return Result(row.id, PENDING, reason, channel, code, attempts, next_attempt_at=next_at)

    def _count(self, results: list[Result]) -> None:
        tally = Counter((r.status, r.channel or "none") for r in results if r.status != PENDING)
        for (status, channel), n in tally.items():
            self.metrics.deliveries.labels(result=status, channel=channel).inc(n)

    # --- the loop -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set: batches back to back while there is work, else poll."""
        await self.heartbeat()
        await self.settle_dead_senders()
        beat = asyncio.create_task(self._beat(stop))
        try:
            while not stop.is_set():
                try:
                    handled = await self.run_once()
                except Exception:
                    self._outage.failed()
                    handled = 0
                else:
                    self._outage.ok()
                if not handled:
                    try:
                        await asyncio.wait_for(stop.wait(), self.poll_s)
                    except TimeoutError:
                        pass
        finally:
            beat.cancel()
            try:
                await release_lease(self.sessionmaker, self.worker_id, self.worker_id)
            except Exception as exc:  # the database is down: the lease lapses by itself
                log.warning("sender %s: lease not released: %s", self.worker_id, exc)

    async def _beat(self, stop: asyncio.Event) -> None:
        # Long batches (slow WeChat, many retries) must not look like a dead sender.
        beats = Outage(log, f"sender {self.worker_id}: heartbeat")
        while not stop.is_set():
            await asyncio.sleep(SENDER_LEASE_TTL.total_seconds() / 4)
            try:
                await self.heartbeat()
            except Exception:
                beats.failed()
            else:
                beats.ok()
