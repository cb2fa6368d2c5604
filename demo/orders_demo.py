"""Demo orders for ``laoke demo``: the orders behind the demo buyers' figures and tiers.

Every demo buyer with a card and order figures gets orders that add up to those figures
(in the trailing window, plus older ones), some refunded or closed orders that do not
count, and a few orders of platform accounts no buyer has given yet (they wait to be
matched when a card names them). Each order lists its line items (a row per line, as a
1688 export has them): each buyer keeps coming back for a few favourite products of the
demo catalogue, so "what they buy" is visible; orders of the last month carry a waybill
number and carrier. Then tiers are recomputed from the orders, so the demo has members of
each configured tier. Idempotent: order numbers are stable, so a restart
re-imports nothing. Changes found while seeding are not announced.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from insights.demo_lines import CATALOGUE, favourites, order_lines, waybill
from members.order_import import import_orders
from members.tier_recompute import recompute_tiers
from members.tiers import NOTICE_NONE, NOTICE_PENDING, TierChange

DONE = "交易成功"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


async def seed_demo_orders(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """Orders for the demo buyers (matching their figures), then tiers from those orders."""
    now, zone = clock.now(), ZoneInfo(config.orders.timezone)
    rng = random.Random(1888)
    async with sessions() as session:
        buyers = (
            await session.execute(
                select(
                    Buyer.id,
                    Buyer.platform_account,
                    Buyer.phone,
                    Buyer.orders_12m,
                    Buyer.spend_12m,
                    Buyer.orders_total,
                )
                .where(Buyer.platform_account.is_not(None), Buyer.openid.like("oDemo%"))
                .order_by(Buyer.id)
            )
        ).all()
    rows: list[tuple[int, tuple]] = []
    products = list(CATALOGUE)

    def add(
        no: str,
        account: str | None,
        phone: str | None,
        cents: int,
        when: datetime,
        status: str = DONE,
    ) -> None:
        order = (no, account, phone, f"{cents / 100:.2f}", _local(when, zone), status)
        shipment = waybill(rng) if now - when < timedelta(days=30) else (None, None)
        for title, sku, quantity, price in order_lines(rng, cents, products):
            line = (title, sku, str(quantity), f"{price / 100:.2f}", "")
            rows.append((len(rows) + 1, order + shipment + line))

    for b in buyers:
        products = favourites(rng)
        recent = max(b.orders_12m or 0, 0)
        if recent:
            total_cents = round((b.spend_12m or 0) * 100)
            cuts = sorted(rng.sample(range(1, total_cents), recent - 1)) if recent > 1 else []
            parts = [hi - lo for lo, hi in zip([0, *cuts], [*cuts, total_cents], strict=True)]
            for k, cents in enumerate(parts):
                add(
                    f"DEMO{b.id:05d}{k:03d}",
                    b.platform_account,
                    None,
                    cents,
                    now - timedelta(days=rng.randint(1, 330), minutes=rng.randint(0, 1439)),
                )
        for k in range(max((b.orders_total or 0) - recent, 0)):
            add(
                f"DEMO{b.id:05d}O{k:02d}",
                b.platform_account,
                None,
                rng.randint(50_000, 900_000),
                now - timedelta(days=rng.randint(400, 700)),
            )
        if recent and rng.random() < 0.3:
            add(
                f"DEMO{b.id:05d}R",
                b.platform_account,
                None,
                rng.randint(20_000, 300_000),
                now - timedelta(days=rng.randint(1, 200)),
                rng.choice(("已退款", "交易关闭")),
            )
    products = list(CATALOGUE)
    for k in range(12):  # accounts no card names yet: matched once a buyer gives one
        add(
            f"DEMOUNMATCHED{k:03d}",
            f"demo_newshop_{k}",
            None,
            rng.randint(100_000, 2_000_000),
            now - timedelta(days=rng.randint(1, 300)),
        )
    await import_orders(sessions, rows, config.orders, now)
    await recompute_tiers(sessions, config.tiers, now)
    async with sessions() as session:
        await session.execute(
            update(TierChange)
            .where(TierChange.notice == NOTICE_PENDING, TierChange.created_at == now)
            .values(notice=NOTICE_NONE)
        )
        await session.commit()
