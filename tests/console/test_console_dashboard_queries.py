"""The 总览 page's own reads, on SQLite and PostgreSQL: the setup checklist's facts and the
drill-down's buyer rows in the order of the ids asked for."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Buyer
from console.queries.dashboard import buyer_rows, setup_state

NOW = datetime(2026, 5, 18, 2, tzinfo=UTC)


def _buyer(n: int, **fields) -> Buyer:
    return Buyer(openid=f"q{n}", first_seen_at=NOW, subscribed=True, tags=[], channels=[],
                 interests=[], **fields)  # fmt: skip


async def test_setup_state_follows_what_has_happened(sessions):
    async with sessions() as session:
        assert await setup_state(session) == (False, False, False, False)
    async with sessions.begin() as session:
        session.add(_buyer(1, qr_scene="expo"))
    async with sessions() as session:
        state = await setup_state(session)
    assert state.has_buyers and state.qr_scene_used
    assert not state.connected and not state.orders_imported


async def test_buyer_rows_keep_the_order_of_the_ids_and_skip_missing_ones(sessions):
    async with sessions.begin() as session:
        a = _buyer(1, display_name="王姐", company="义乌小商品")
        b = _buyer(2, tier_key="gold")
        session.add_all([a, b])
        await session.flush()
        ids = [b.id, a.id, 999_999]
    async with sessions() as session:
        rows = await buyer_rows(session, ids)
    assert [(r.id, r.name, r.company, r.tier_key) for r in rows] == [
        (ids[0], "", "", "gold"),
        (ids[1], "王姐", "义乌小商品", None),
    ]
    async with sessions() as session:
        assert await buyer_rows(session, []) == []
