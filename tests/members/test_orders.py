"""Orders and buyers: matching by account name or phone, late matching when a card arrives,
and the denormalised figures segments read (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from bot.models import Buyer
from members.order_import import import_orders
from members.orders import Order
from members.tier_recompute import recompute_tiers
from members.tier_refresh import match_orders_for_buyer
from members.tiers import TierChange

TIERS = {
    "levels": [
        {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000, "perks": ["满500减20"]},
        {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000, "perks": ["专属客服"]},
    ]
}


@pytest.fixture
def services(make_config, clock) -> Services:
    # Nothing here sends: a notice found in conversation rides on the reply.
    config = make_config(tiers=TIERS)
    return Services(config, Renderer(), None, clock, Metrics())  # type: ignore[arg-type]


async def add_buyer(sessions, openid: str, **fields) -> int:
    async with sessions() as session:
        buyer = Buyer(openid=openid, first_seen_at=datetime(2026, 1, 1, tzinfo=UTC), **fields)
        session.add(buyer)
        await session.commit()
        return buyer.id


async def add_orders(sessions, services, *rows: tuple):
    """rows: (order_no, account, phone, amount, status)."""
    return await import_orders(
        sessions,
        [
            (i, (no, acc, phone, amount, "2026-05-01 10:00", status))
            for i, (no, acc, phone, amount, status) in enumerate(rows, 1)
        ],
        services.config.orders,
        services.clock.now(),
    )


async def owners(sessions) -> dict[str, int | None]:
    async with sessions() as session:
        return dict((await session.execute(select(Order.order_no, Order.buyer_id))).all())


async def test_orders_of_known_buyers_are_linked_by_the_import(sessions, services):
    a = await add_buyer(sessions, "oA", platform_account="tb_a")
    b = await add_buyer(sessions, "oB", phone="13800138000")
    result = await add_orders(
        sessions,
        services,
        ("1", "tb_a", None, "10", "交易成功"),
        ("2", "someone", "13800138000", "10", "交易成功"),
        ("3", "stranger", None, "10", "交易成功"),
    )
    assert result.matched == 2
    assert await owners(sessions) == {"1": a, "2": b, "3": None}


async def test_unmatched_orders_are_linked_when_the_card_gives_the_name(sessions, services):
    await add_orders(
        sessions,
        services,
        ("1", "tb_late", None, "6000", "交易成功"),
        ("2", "tb_late", None, "100", "已退款"),
    )
    buyer_id = await add_buyer(sessions, "oLate")
    async with sessions() as session:
        buyer = await session.get(Buyer, buyer_id)
        buyer.platform_account = "tb_late"  # the card was just confirmed
        linked = await match_orders_for_buyer(session, buyer, services)
        await session.commit()
    assert linked == 2
    assert await owners(sessions) == {"1": buyer_id, "2": buyer_id}
    async with sessions() as session:
        buyer = await session.get(Buyer, buyer_id)
        change = await session.scalar(select(TierChange))
    # Figures and tier at once; the buyer is writing, so the notice rides on this reply.
    assert (buyer.orders_12m, buyer.spend_12m, buyer.orders_total) == (1, 6000.0, 1)
    assert buyer.tier_key == "silver" and "银卡会员" in buyer.pending_notice
    assert (change.to_key, change.notice) == ("silver", "stored")


async def test_late_matching_without_services_leaves_the_tier_to_the_recompute(sessions, services):
    await add_orders(sessions, services, ("1", None, "13900139000", "6000", "交易成功"))
    buyer_id = await add_buyer(sessions, "oP", phone="13900139000")
    async with sessions() as session:
        buyer = await session.get(Buyer, buyer_id)
        assert await match_orders_for_buyer(session, buyer) == 1
        await session.commit()
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    async with sessions() as session:
        assert (await session.get(Buyer, buyer_id)).tier_key == "silver"


async def test_the_recompute_links_orders_of_buyers_whose_card_came_later(sessions, services):
    await add_orders(sessions, services, ("1", "tb_x", None, "25000", "交易成功"))
    buyer_id = await add_buyer(sessions, "oX", platform_account="tb_x")
    result = await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    assert result.matched == 1
    async with sessions() as session:
        assert (await session.get(Buyer, buyer_id)).tier_key == "gold"


async def test_orders_of_another_buyer_are_not_taken(sessions, services):
    first = await add_buyer(sessions, "oA", platform_account="tb_shared")
    await add_orders(sessions, services, ("1", "tb_shared", None, "10", "交易成功"))
    second = await add_buyer(sessions, "oB", platform_account="tb_shared")
    async with sessions() as session:
        buyer = await session.get(Buyer, second)
        assert await match_orders_for_buyer(session, buyer) == 0
    assert await owners(sessions) == {"1": first}


async def test_refunding_every_order_zeroes_the_figures(sessions, services):
    buyer_id = await add_buyer(sessions, "oA", platform_account="tb_a")
    await add_orders(sessions, services, ("1", "tb_a", None, "6000", "交易成功"))
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    await add_orders(sessions, services, ("1", "tb_a", None, "6000", "退款成功"))
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    async with sessions() as session:
        buyer = await session.get(Buyer, buyer_id)
    assert (buyer.orders_12m, buyer.spend_12m, buyer.orders_total, buyer.tier_key) == (
        0,
        0.0,
        0,
        None,
    )


async def test_an_order_whose_account_changed_is_matched_again(sessions, services):
    a = await add_buyer(sessions, "oA", platform_account="tb_a")
    b = await add_buyer(sessions, "oB", platform_account="tb_b")
    await add_orders(sessions, services, ("1", "tb_a", None, "10", "交易成功"))
    result = await add_orders(sessions, services, ("1", "tb_b", None, "10", "交易成功"))
    assert result.updated == 1
    assert await owners(sessions) == {"1": b}
    assert a != b
