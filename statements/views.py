"""What buyers and staff read about statements: a buyer's latest statement, the running
figures of the open period, the progress to the next rebate step, a period's statements.

Plain dataclasses with money in integer cents (templates show it with the ``cents``
filter), built from the stored statements or, for a period not closed yet, from
``lines.compute_drafts``. The chat, the statement page, the tier card and the console all
read through here. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.models import Buyer
from statements.close import first_closed_start, open_period
from statements.ladder import current_ladder, percent, rebate_cents
from statements.ledger import balance, payouts
from statements.lines import Draft, Line, compute_drafts
from statements.models import PAID, RebateEntry, Statement, StatementLine, StatementPeriod
from statements.periods import Period, PeriodError, parse_period


@dataclass(frozen=True)
class StatementView:
    """A statement as read: closed (stored) or running (computed now)."""

    statement_id: int | None
    buyer_id: int
    key: str
    period: str  # 2026年11月
    closed: bool
    orders: int
    order_total: int
    refund_total: int
    adjustment_total: int
    net: int
    tier_key: str | None
    rate: str  # 2.5%
    rebate: int
    paid_on: str | None = None  # 2026-12-08 (Beijing)
    paid_method: str | None = None
    lines: tuple[Line, ...] = ()
    paid_by: str | None = None
    rebate_base: int = 0  # running only: net less excluded SKUs, what the thresholds compare


@dataclass(frozen=True)
class Progress:
    """本月再拿 ¥8,200 返点升到 3%."""

    period: str  # 本月 / 本季度 / 本年
    need: int
    rate: str


def _local_date(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d")


async def _stored_lines(session: AsyncSession, statement_id: int) -> tuple[Line, ...]:
    rows = await session.scalars(
        select(StatementLine)
        .where(StatementLine.statement_id == statement_id)
        .order_by(StatementLine.ordered_at, StatementLine.id)
    )
    return tuple(
        Line(r.kind, r.order_id, r.order_no, r.ordered_at, r.amount_cents, r.note) for r in rows
    )


async def stored_view(
    session: AsyncSession, statement: Statement, period: StatementPeriod, config: Config,
    *, with_lines: bool = False,
) -> StatementView:  # fmt: skip
    """A closed statement as read (its payout, if paid; its lines when asked for)."""
    paid = (await payouts(session, [statement.id])).get(statement.id)
    label = parse_period(period.key, period.kind, config.orders.timezone).label
    return StatementView(
        statement.id, statement.buyer_id, period.key, label, True, statement.orders,
        statement.order_cents, statement.refund_cents,
        statement.adjustment_cents, statement.net_cents, statement.tier_key,
        percent(statement.rate_bp), statement.rebate_cents,
        _local_date(paid.created_at, config.orders.timezone) if paid else None,
        paid.method if paid else None,
        await _stored_lines(session, statement.id) if with_lines else (),
    )  # fmt: skip


async def running_view(
    session: AsyncSession, config: Config, period: Period, buyer: Buyer
) -> StatementView:
    """A buyer's figures of a period not closed yet, as they stand now."""
    since = await first_closed_start(session)
    ladder = await current_ladder(session)
    drafts = await compute_drafts(
        session, period, since, buyer_id=buyer.id, exclude_skus=ladder.exclude_skus
    )
    draft = drafts.get(buyer.id) or Draft(buyer.id)
    bp = ladder.rate_bp(draft.rebate_base_cents, buyer.tier_key)
    return StatementView(
        None, buyer.id, period.key, period.label, False, draft.orders, draft.order_cents,
        draft.refund_cents, draft.adjustment_cents, draft.net_cents,
        buyer.tier_key, percent(bp), rebate_cents(draft.rebate_base_cents, bp),
        lines=tuple(sorted(draft.lines, key=lambda line: line.ordered_at)),
        rebate_base=draft.rebate_base_cents,
    )  # fmt: skip


async def latest_statement(
    session: AsyncSession, config: Config, buyer_id: int
) -> StatementView | None:
    """The buyer's statement of the latest closed period they had one in."""
    row = (
        await session.execute(
            select(Statement, StatementPeriod)
            .join(StatementPeriod, StatementPeriod.id == Statement.period_id)
            .where(Statement.buyer_id == buyer_id)
            .order_by(StatementPeriod.ends_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else await stored_view(session, row[0], row[1], config)


async def statement_for_key(
    session: AsyncSession, config: Config, buyer: Buyer, key: str
) -> StatementView | None:
    """The buyer's statement of period `key`: stored when closed, running otherwise (None
    when the key is not a period of the configured kind)."""
    try:
        period = parse_period(key, config.statements.period, config.orders.timezone)
    except PeriodError:
        return None
    stored = await session.scalar(select(StatementPeriod).where(StatementPeriod.key == key))
    if stored is None:
        return await running_view(session, config, period, buyer)
    statement = await session.scalar(
        select(Statement).where(Statement.period_id == stored.id, Statement.buyer_id == buyer.id)
    )
    if statement is None:  # closed without activity of theirs
        return StatementView(None, buyer.id, key, period.label, True, 0, 0, 0, 0, 0,
                             buyer.tier_key, "0%", 0)  # fmt: skip
    return await stored_view(session, statement, stored, config, with_lines=True)


async def rebate_progress(
    session: AsyncSession, config: Config, buyer: Buyer, now: datetime
) -> Progress | None:
    """How much more the buyer needs this period to reach the next rebate step (None when
    there is no next step by spend)."""
    ladder = await current_ladder(session)
    if ladder.next_step(0) is None:
        return None  # no ladder, a rate per tier, or one step from the first yuan
    period = open_period(config, now)
    running = await running_view(session, config, period, buyer)
    step = ladder.next_step(running.rebate_base)
    if step is None:
        return None
    missing, bp = step
    return Progress(period.noun, missing, percent(bp))


async def owed(session: AsyncSession, buyer_id: int) -> int:
    """Rebates accrued and not yet paid."""
    return (await balance(session, buyer_id)).owed_cents


@dataclass(frozen=True)
class PeriodRow:
    key: str
    label: str
    closed_at: datetime
    closed_by: str
    buyers: int
    net: int
    rebate: int
    paid: int


async def closed_periods(session: AsyncSession, config: Config, limit: int = 36) -> list[PeriodRow]:
    """The closed periods, newest first, with their totals and what was paid of them."""
    paid = (
        select(Statement.period_id, func.sum(RebateEntry.amount_cents).label("paid"))
        .join(RebateEntry, RebateEntry.statement_id == Statement.id)
        .where(RebateEntry.kind == PAID)
        .group_by(Statement.period_id)
        .subquery()
    )
    rows = await session.execute(
        select(StatementPeriod, paid.c.paid)
        .outerjoin(paid, paid.c.period_id == StatementPeriod.id)
        .order_by(StatementPeriod.ends_at.desc())
        .limit(limit)
    )
    return [
        PeriodRow(
            p.key,
            parse_period(p.key, p.kind, config.orders.timezone).label,
            p.closed_at,
            p.closed_by,
            p.buyers,
            p.net_cents,
            p.rebate_cents,
            int(done or 0),
        )  # fmt: skip
        for p, done in rows
    ]


@dataclass(frozen=True)
class BuyerRow:
    """One buyer's line on a period's page and in the export."""

    view: StatementView
    name: str
    company: str


async def period_statements(
    session: AsyncSession, config: Config, key: str
) -> tuple[StatementPeriod, list[BuyerRow]] | None:
    """A closed period and every buyer's statement of it (largest net spend first)."""
    period = await session.scalar(select(StatementPeriod).where(StatementPeriod.key == key))
    if period is None:
        return None
    rows = await session.execute(
        select(Statement, Buyer.display_name, Buyer.company, Buyer.platform_account)
        .join(Buyer, Buyer.id == Statement.buyer_id)
        .where(Statement.period_id == period.id)
        .order_by(Statement.net_cents.desc(), Statement.id)
    )
    rows = rows.all()
    paid = await payouts(session, [r[0].id for r in rows])
    label = parse_period(period.key, period.kind, config.orders.timezone).label
    out = []
    for st, name, company, account in rows:
        entry = paid.get(st.id)
        view = StatementView(
            st.id, st.buyer_id, period.key, label, True, st.orders, st.order_cents,
            st.refund_cents, st.adjustment_cents, st.net_cents, st.tier_key,
            percent(st.rate_bp), st.rebate_cents,
            _local_date(entry.created_at, config.orders.timezone) if entry else None,
            entry.method if entry else None,
            paid_by=entry.actor if entry else None,
        )  # fmt: skip
        out.append(BuyerRow(view, name or account or f"买家 #{st.buyer_id}", company or ""))
    return period, out


async def period_lines(
    session: AsyncSession, period: StatementPeriod, rows: list[BuyerRow]
) -> list[tuple[BuyerRow, Line]]:
    """Every line of a closed period's statements, by buyer as `rows` orders them."""
    by_statement = {r.view.statement_id: r for r in rows}
    lines = await session.scalars(
        select(StatementLine)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(Statement.period_id == period.id)
        .order_by(StatementLine.ordered_at, StatementLine.id)
    )
    found = [
        (by_statement[r.statement_id],
         Line(r.kind, r.order_id, r.order_no, r.ordered_at, r.amount_cents, r.note))
        for r in lines
    ]  # fmt: skip
    order = {r.view.statement_id: i for i, r in enumerate(rows)}
    return sorted(found, key=lambda pair: order[pair[0].view.statement_id])


async def statement_detail(
    session: AsyncSession, config: Config, key: str, buyer_id: int
) -> StatementView | None:
    """One buyer's closed statement of `key` with its lines (None if there is none)."""
    row = (
        await session.execute(
            select(Statement, StatementPeriod)
            .join(StatementPeriod, StatementPeriod.id == Statement.period_id)
            .where(StatementPeriod.key == key, Statement.buyer_id == buyer_id)
        )
    ).first()
    if row is None:
        return None
    return await stored_view(session, row[0], row[1], config, with_lines=True)


async def running_totals(session: AsyncSession, config: Config, now: datetime) -> dict[str, int]:
    """The open period so far, over every buyer: buyers with activity, net spend, and the
    rebate the ladder in force would pay on it."""
    period = open_period(config, now)
    ladder = await current_ladder(session)
    since = await first_closed_start(session)
    drafts = await compute_drafts(session, period, since, exclude_skus=ladder.exclude_skus)
    tiers = dict(
        (await session.execute(select(Buyer.id, Buyer.tier_key).where(Buyer.tier_key.is_not(None)))).all()
    ) if drafts else {}  # fmt: skip
    rebate = sum(
        rebate_cents(d.rebate_base_cents, ladder.rate_bp(d.rebate_base_cents, tiers.get(b)))
        for b, d in drafts.items()
    )
    return {
        "buyers": len(drafts),
        "net": sum(d.net_cents for d in drafts.values()),
        "rebate": rebate,
    }
