"""Mass sends in the database: starting a batch, settling it, WeChat's report, the allowances.

A batch of a campaign step that goes by mass send is one ``mass_sends`` row, created in the
same transaction that marks its delivery rows ``sending`` and counts the month's allowance
of each recipient (``mass_allowance``) — so a crash right after can never send past the
allowance, and the rows know their batch. Its ``client_msg_id`` (campaign, step, batch) is the
idempotency key WeChat honours for 24 hours: a batch interrupted by a timeout or a crash is
sent again with the same key, and WeChat answers "already sent" instead of sending twice.
Past ``RESEND_WITHIN`` a resend could arrive twice, so such rows are left ``uncertain``.

This module does not call WeChat (``scheduler/mass_delivery.py`` does) or decide channels
(``bot/wechat/channels.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.wechat.mass import client_msg_id
from bot.wechat.quota import WECHAT_DAY
from scheduler.models import (
    CLAIMED,
    MASS_FAILED,
    MASS_SENDING,
    SENDING,
    Delivery,
    MassAllowance,
    MassSend,
)

# WeChat remembers a clientmsgid for 24 hours; resend only well within that.
RESEND_WITHIN = timedelta(hours=23)

_deliveries = Delivery.__table__


def month_of(now: datetime) -> str:
    """The platform's calendar month of `now` (``YYYY-MM`` in Beijing)."""
    return now.astimezone(WECHAT_DAY).strftime("%Y-%m")


async def allowance_used(
    session: AsyncSession, buyer_ids: list[int], now: datetime
) -> dict[int, int]:
    """Mass messages each buyer was sent this month (buyers with none are left out)."""
    if not buyer_ids:
        return {}
    rows = await session.execute(
        select(MassAllowance.buyer_id, MassAllowance.used).where(
            MassAllowance.buyer_id.in_(buyer_ids), MassAllowance.month == month_of(now)
        )
    )
    return dict(rows.all())


async def sends_today(session: AsyncSession, now: datetime) -> int:
    """Mass sends the account made on this platform day (failed calls do not count)."""
    local = now.astimezone(WECHAT_DAY)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(
        await session.scalar(
            select(func.count())
            .select_from(MassSend)
            .where(MassSend.created_at >= start, MassSend.status != MASS_FAILED)
        )
        or 0
    )


async def start_batch(
    session: AsyncSession,
    worker: str,
    *,
    campaign_id: int,
    step_id: int,
    rows: dict[int, int],
    text: str,
    now: datetime,
    count_allowance: bool,
) -> tuple[MassSend, set[int]]:
    """Create the batch of `rows` (delivery id → buyer id) and mark those still claimed by
    `worker` as sending with it; returns the batch and the ids marked (only those may be
    sent). With `count_allowance`, each marked row's buyer uses one of the month's sends."""
    last = await session.scalar(select(func.max(MassSend.batch)).where(MassSend.step_id == step_id))
    batch = int(last or 0) + 1
    mass = MassSend(
        campaign_id=campaign_id,
        step_id=step_id,
        batch=batch,
        client_msg_id=client_msg_id(campaign_id, step_id, batch),
        status=MASS_SENDING,
        recipients=0,
        text=text,
        created_at=now,
    )
    session.add(mass)
    await session.flush()
    marked = await session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id.in_(list(rows)),
            _deliveries.c.claimed_by == worker,
            _deliveries.c.status == CLAIMED,
        )
        .values(status=SENDING, mass_send_id=mass.id)
        .returning(_deliveries.c.id)
    )
    started = {r[0] for r in marked}
    mass.recipients = len(started)
    if count_allowance and started:
        await add_allowance(session, [rows[i] for i in started], now, 1)
    return mass, started


async def restart_batch(session: AsyncSession, worker: str, row_ids: list[int]) -> set[int]:
    """Mark rows of an interrupted batch as sending again (those still claimed by `worker`)."""
    marked = await session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id.in_(row_ids),
            _deliveries.c.claimed_by == worker,
            _deliveries.c.status == CLAIMED,
        )
        .values(status=SENDING)
        .returning(_deliveries.c.id)
    )
    return {r[0] for r in marked}


async def add_allowance(
    session: AsyncSession, buyer_ids: list[int], now: datetime, delta: int
) -> None:
    """Count (or, with a negative `delta`, give back) one mass message per buyer."""
    month = month_of(now)
    dialect = session.bind.dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    for buyer_id in buyer_ids:
        stmt = insert(MassAllowance).values(buyer_id=buyer_id, month=month, used=max(delta, 0))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["buyer_id", "month"],
                set_={"used": func.max(MassAllowance.used + delta, 0)}
                if dialect == "sqlite"
                else {"used": func.greatest(MassAllowance.used + delta, 0)},
            )
        )


async def batches(session: AsyncSession, ids: set[int]) -> dict[int, MassSend]:
    """The mass sends of these ids."""
    if not ids:
        return {}
    return {m.id: m for m in await session.scalars(select(MassSend).where(MassSend.id.in_(ids)))}


async def settle_batch(
    session: AsyncSession,
    mass_id: int,
    status: str,
    *,
    msg_id: str | None = None,
    errcode: int | None = None,
) -> None:
    """Record WeChat's answer to the call (a msg_id is kept once known)."""
    values: dict = {"status": status, "errcode": errcode}
    if msg_id:
        values["msg_id"] = msg_id
    await session.execute(update(MassSend).where(MassSend.id == mass_id).values(**values))


async def record_finish(
    session: AsyncSession,
    msg_id: str,
    *,
    status: str,
    total: int,
    filtered: int,
    sent: int,
    errors: int,
    now: datetime,
) -> bool:
    """Store WeChat's ``MASSSENDJOBFINISH`` counts on the batch with `msg_id`; False when no
    batch has it (a send from the platform's own backend)."""
    result = await session.execute(
        update(MassSend)
        .where(MassSend.msg_id == msg_id)
        .values(
            finish_status=status[:64],
            total_count=total,
            filter_count=filtered,
            sent_count=sent,
            error_count=errors,
            finished_at=now,
        )
    )
    return bool(result.rowcount)


async def campaign_mass_report(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """A campaign's mass sends: calls, their recipients, and WeChat's finished counts."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(MassSend.recipients), 0),
                func.count(MassSend.finished_at),
                func.coalesce(func.sum(MassSend.total_count), 0),
                func.coalesce(func.sum(MassSend.filter_count), 0),
                func.coalesce(func.sum(MassSend.sent_count), 0),
                func.coalesce(func.sum(MassSend.error_count), 0),
            ).where(MassSend.campaign_id == campaign_id)
        )
    ).one()
    keys = ("calls", "recipients", "finished", "total", "filtered", "sent", "errors")
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}
