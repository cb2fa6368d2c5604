"""Telling a buyer their tier changed: by the channel WeChat allows at that moment.

Inside the 48-hour window after the buyer's last message, a customer-service message;
outside it, a template message when ``[wechat] template_ids.tier_change`` is set; otherwise
(or when a send fails) the notice waits in ``buyers.pending_notice`` and is added to the
reply the next time the buyer writes (the reply hook in ``handlers/membership.py``).
Upgrades are congratulated with the new perks; downgrades are announced only when
``[tiers] announce_downgrades`` is on (``members/tiers.py`` decides which changes are pending).
Every send attempt is an ``outbound_messages`` row (purpose ``tier_change``). Which channels
may be tried is WeChat's rule, decided by ``bot/wechat/channels.py`` for every sender.

This module does not decide tiers and holds no buyer-facing wording (templates/messages/).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.models import Buyer
from bot.wechat.service_notices import (
    Attempt,
    keep_for_next_reply,
    record_notice,
    send_service_notice,
)
from bot.wechat.template_messages import TemplateMessageBook, fit
from members.tiers import NOTICE_PENDING, Ladder, TierChange, current_ladder

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.dialog.context import Services

log = logging.getLogger(__name__)

PURPOSE = "tier_change"
BATCH = 500


def notice_text(
    services: Services, ladder: Ladder, buyer: Buyer, from_key: str | None, to_key: str | None
) -> str:
    """The buyer-facing notice for a change (tier_upgrade.j2 or tier_downgrade.j2)."""
    template = "tier_upgrade" if ladder.is_upgrade(from_key, to_key) else "tier_downgrade"
    return services.renderer.render(
        template,
        buyer=buyer,
        tier=ladder.get(to_key),
        previous=ladder.get(from_key),
        next_tier=ladder.next_above(to_key),
    )


def stash_notice(services: Services, ladder: Ladder, buyer: Buyer, change: TierChange) -> None:
    """Keep the notice on the buyer; the next reply to them carries it."""
    text = notice_text(services, ladder, buyer, change.from_key, change.to_key)
    keep_for_next_reply(buyer, text)
    change.notice = "stored"


async def mark_stored_notices_delivered(session: AsyncSession, buyer_id: int) -> None:
    """The stored notices of a buyer went out with a reply."""
    await session.execute(
        update(TierChange)
        .where(TierChange.buyer_id == buyer_id, TierChange.notice == "stored")
        .values(notice="reply")
        .execution_options(synchronize_session=False)
    )


def _template_data(
    services: Services, book: TemplateMessageBook, text: str, tier_name: str
) -> tuple[dict[str, Any], str | None]:
    """The layout an admin set for this purpose (content/template_messages.py), filled with
    the tier, the date and the notice's first line — or, with only a configured id, the
    typed fields most tier templates have: the tier (thing1) and the date (time2)."""
    first, _, _rest = text.partition("\n")
    local = services.clock.now().astimezone(ZoneInfo(services.config.orders.timezone))
    values = {"notice": first, "tier_name": tier_name, "date": local.strftime("%Y-%m-%d")}
    default = {"thing1": {"value": fit("thing1", tier_name)}, "time2": {"value": values["date"]}}
    return book.data(PURPOSE, values, default)


async def _send(services: Services, buyer: Buyer, text: str, tier_name: str) -> list[Attempt]:
    """The notice by the allowed channels; nothing is sent to someone who unfollowed."""
    if not buyer.subscribed:
        return []
    book = services.template_messages
    return await send_service_notice(
        services.api, book, services.clock.now(), buyer, (PURPOSE, text),
        lambda: _template_data(services, book, text, tier_name),
    )  # fmt: skip


async def deliver_pending_notices(
    sessionmaker: async_sessionmaker[AsyncSession],
    services: Services,
    *,
    buyer_id: int | None = None,
) -> dict[str, int]:
    """Announce every pending tier change (or one buyer's); returns counts by channel.

    When a buyer has several pending changes, only the net change is announced (the
    earlier rows become ``superseded``); a net change back to the same tier says nothing.
    """
    async with sessionmaker() as session:
        ladder = await current_ladder(session, services.config.tiers)
    counts: Counter[str] = Counter()
    limit = asyncio.Semaphore(services.config.campaigns.concurrency)
    last_id = 0
    while True:
        async with sessionmaker() as session:
            q = (
                select(TierChange, Buyer)
                .join(Buyer, Buyer.id == TierChange.buyer_id)
                .where(TierChange.notice == NOTICE_PENDING, TierChange.id > last_id)
                .order_by(TierChange.id)
                .limit(BATCH)
            )
            if buyer_id is not None:
                q = q.where(TierChange.buyer_id == buyer_id)
            rows = (await session.execute(q)).all()
            if not rows:
                break
            last_id = rows[-1][0].id
            per_buyer: dict[int, list[TierChange]] = {}
            buyers: dict[int, Buyer] = {}
            for change, buyer in rows:
                per_buyer.setdefault(buyer.id, []).append(change)
                buyers[buyer.id] = buyer
            jobs = []
            for bid, changes in per_buyer.items():
                for older in changes[:-1]:
                    older.notice = "superseded"
                latest = changes[-1]
                from_key, to_key = changes[0].from_key, latest.to_key
                if from_key == to_key:
                    latest.notice = "superseded"
                    continue
                buyer = buyers[bid]
                text = notice_text(services, ladder, buyer, from_key, to_key)
                tier = ladder.get(to_key)
                jobs.append((buyer, latest, text, tier.name if tier else "-"))

            async def run(buyer: Buyer, text: str, tier_name: str) -> list[tuple]:
                async with limit:
                    return await _send(services, buyer, text, tier_name)

            outcomes = await asyncio.gather(*(run(b, t, n) for b, _, t, n in jobs))
            now = services.clock.now()
            for (buyer, change, text, _), attempts in zip(jobs, outcomes, strict=True):
                sent = record_notice(session, buyer, (PURPOSE, text), attempts, now)
                change.notice = sent
                counts[sent] += 1
            await session.commit()
    return dict(counts)
