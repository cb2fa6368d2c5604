"""Telling each buyer with a statement that the period closed: by the channel WeChat allows.

Like a tier change (``members/tier_notices.py``): inside the 48-hour window a
customer-service message; outside it a template message when ``[wechat]
template_ids.statement`` is set (its link opens the statement page); otherwise, or when a
send fails, the notice waits in ``buyers.pending_notice`` and rides on the next reply.
Which channels may be tried is ``bot/wechat/channels.py``'s rule. Every attempt is an
``outbound_messages`` row (purpose ``statement``); ``statements.notice`` records how the
buyer was told, so a second run tells nobody twice (a crash between a send and its commit
may repeat that one notice). Buyers who unfollowed are not told (WeChat forbids it).

This module holds no wording (``templates/messages/statement_notice.j2``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.dialog.rendering import cents
from bot.models import Buyer
from bot.wechat.service_notices import Attempt, record_notice, send_service_notice
from bot.wechat.template_messages import fit
from statements import links
from statements.models import Statement, StatementPeriod
from statements.views import StatementView, stored_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.dialog.context import Services

log = logging.getLogger(__name__)

PURPOSE = "statement"
CONCURRENCY = 16


def notice_text(
    services: Services, buyer: Buyer, statement: StatementView, link: str | None
) -> str:
    """The buyer-facing notice of a closed statement."""
    return services.renderer.render("statement_notice", buyer=buyer, statement=statement, link=link)


async def _send(
    services: Services, buyer: Buyer, text: str, statement: StatementView, link: str | None
) -> list[Attempt]:
    """The notice by the allowed channels (``bot/wechat/service_notices.py``)."""
    return await send_service_notice(
        services.api, services.template_messages, services.clock.now(), buyer, (PURPOSE, text),
        lambda: _template_data(services, text, statement, link),
    )  # fmt: skip


def _template_data(
    services: Services, text: str, statement: StatementView, link: str | None
) -> tuple[dict[str, Any], str | None]:
    """The layout an admin set for this purpose, filled with the period, the figures and the
    date — or, with only a configured id, typed fields a statement template has (since 2023
    WeChat shows no first/remark lines): the period (thing1), net spend (amount2), the rebate
    (amount3) and the date (time4)."""
    first, _, rest = text.partition("\n")
    local = services.clock.now().astimezone(ZoneInfo(services.config.orders.timezone))
    values = {
        "notice": first, "period": statement.period, "net": cents(statement.net),
        "rebate": cents(statement.rebate), "date": local.strftime("%Y-%m-%d"),
        "remark": rest.strip(),
    }  # fmt: skip
    default = {
        "thing1": {"value": fit("thing1", values["period"])},
        "amount2": {"value": fit("amount2", values["net"])},
        "amount3": {"value": fit("amount3", values["rebate"])},
        "time4": {"value": values["date"]},
    }
    return services.template_messages.data(PURPOSE, values, default, link)


async def notify_period(
    sessionmaker: async_sessionmaker[AsyncSession], services: Services, period_key: str
) -> dict[str, int]:
    """Tell every buyer of a closed period who was not told yet; counts by outcome."""
    counts: Counter[str] = Counter()
    limit = asyncio.Semaphore(CONCURRENCY)
    async with sessionmaker() as session:
        period = await session.scalar(
            select(StatementPeriod).where(StatementPeriod.key == period_key)
        )
        if period is None:
            return {}
        rows = (
            await session.execute(
                select(Statement, Buyer)
                .join(Buyer, Buyer.id == Statement.buyer_id)
                .where(Statement.period_id == period.id, Statement.notice.is_(None))
                .order_by(Statement.id)
            )
        ).all()
        jobs = []
        now = services.clock.now()
        for statement, buyer in rows:
            if not buyer.subscribed:
                statement.notice = "none"
                counts["none"] += 1
                continue
            view = await stored_view(session, statement, period, services.config)
            link = links.url(services.config, buyer.id, period.key, now)
            jobs.append((statement, buyer, view, link, notice_text(services, buyer, view, link)))

        async def run(buyer: Buyer, text: str, view: StatementView, link: str | None):
            async with limit:
                return await _send(services, buyer, text, view, link)

        outcomes = await asyncio.gather(*(run(b, t, v, lk) for _, b, v, lk, t in jobs))
        now = services.clock.now()
        for (statement, buyer, _, _, text), attempts in zip(jobs, outcomes, strict=True):
            sent = record_notice(session, buyer, (PURPOSE, text), attempts, now)
            statement.notice = sent
            counts[sent] += 1
        await session.commit()
    return dict(counts)
