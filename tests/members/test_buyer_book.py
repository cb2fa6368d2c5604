"""The buyer book's queries and writes, on SQLite and PostgreSQL: search forms, keyset pages
over every sort (NULLs last, no row twice, none skipped), bulk tags over the whole match,
notes, and staff card edits with the card's own parsers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import Buyer
from members.buyer_book import (
    BookError,
    add_note,
    add_tag,
    bulk_tag,
    count_buyers,
    delete_notes,
    list_buyers,
    notes_for,
    remove_tag,
)
from members.buyer_card_edit import edit_card_field


async def _seed(sessions, clock, n: int = 12) -> list[int]:
    now = clock.now()
    async with sessions() as session, session.begin():
        buyers = []
        for i in range(n):
            buyers.append(
                Buyer(
                    openid=f"o-book-{i:03d}",
                    first_seen_at=now,
                    display_name=f"张{i}" if i % 2 else f"李{i}",
                    company="广州服饰" if i % 3 == 0 else None,
                    phone=f"1380000{i:04d}",
                    platform_account=f"shop{i}",
                    # every third buyer never interacted: NULLs must sort last
                    last_interaction_at=None if i % 3 == 0 else now - timedelta(hours=i),
                    subscribed_at=now - timedelta(days=i),
                    spend_12m=float(i % 4) * 100,
                    orders_total=i % 5,
                    tags=["VIP"] if i < 3 else [],
                )
            )
        session.add_all(buyers)
        await session.flush()
        return [b.id for b in buyers]


@pytest.mark.parametrize("sort", ["last_interaction", "spend_12m", "orders_total", "subscribed_at"])
@pytest.mark.parametrize("desc", [True, False])
async def test_keyset_pages_visit_every_buyer_once_in_order(sessions, clock, sort, desc):
    ids = await _seed(sessions, clock)
    seen, cursor = [], None
    async with sessions() as session:
        while True:
            page = await list_buyers(session, None, sort=sort, desc=desc, cursor=cursor, limit=5)
            assert page.total == len(ids)
            seen.extend(page.rows)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert sorted(b.id for b in seen) == sorted(ids)
    column = {"last_interaction": "last_interaction_at"}.get(sort, sort)
    values = [getattr(b, column) for b in seen]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=desc)
    # NULLs (never interacted / never followed) come last in both directions
    assert values[len(present) :] == [None] * (len(values) - len(present))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("13800000007", ["o-book-007"]),  # full phone
        ("0007", ["o-book-007"]),  # phone tail
        ("o-book-004", ["o-book-004"]),  # openid
        ("shop5", ["o-book-005"]),  # platform account
        ("张1", ["o-book-001", "o-book-011"]),  # name prefix
        ("广州", ["o-book-000", "o-book-003", "o-book-006", "o-book-009"]),  # company prefix
        ("服饰", []),  # the middle of a company name is not searched
        ("50%", []),  # LIKE wildcards are literal
    ],
)
async def test_search_forms(sessions, clock, q, expected):
    await _seed(sessions, clock)
    async with sessions() as session:
        page = await list_buyers(session, None, q)
    assert sorted(b.openid for b in page.rows) == expected
    assert page.total == len(expected)


async def test_a_forged_cursor_is_a_clear_error(sessions, clock):
    await _seed(sessions, clock)
    async with sessions() as session:
        for cursor in ("nonsense", "abc|1", "|x", "|5"):
            with pytest.raises(BookError, match="翻页参数无效"):
                await list_buyers(session, None, sort="spend_12m", cursor=cursor)


async def test_bulk_tag_changes_every_match_not_a_page(sessions, clock, monkeypatch):
    import members.buyer_book as book

    monkeypatch.setattr(book, "BULK_BATCH", 3)  # several batches
    await _seed(sessions, clock, n=20)
    where = Buyer.orders_total >= 1  # 16 of 20
    async with sessions() as session, session.begin():
        assert await count_buyers(session, where, "") == 16
        assert await bulk_tag(session, where, "", "复购", add=True) == 16
        assert await bulk_tag(session, where, "", "复购", add=True) == 0  # idempotent
    async with sessions() as session:
        tagged = [b for b in await session.scalars(select(Buyer)) if "复购" in (b.tags or [])]
        assert len(tagged) == 16 and all(b.orders_total >= 1 for b in tagged)
        vip = await session.scalar(select(Buyer).where(Buyer.openid == "o-book-001"))
        assert vip.tags == ["VIP", "复购"]  # other tags kept
    async with sessions() as session, session.begin():
        assert await bulk_tag(session, None, "张", "复购", add=False) == 8
    with pytest.raises(BookError):
        async with sessions() as session:
            await bulk_tag(session, None, "", "a,b", add=True)


async def test_single_tags_and_notes(sessions, clock):
    ids = await _seed(sessions, clock, n=1)
    async with sessions() as session, session.begin():
        buyer = await session.get(Buyer, ids[0])
        assert add_tag(buyer, "  看过 直播 ") and buyer.tags == ["VIP", "看过 直播"]
        assert not add_tag(buyer, "VIP")
        assert remove_tag(buyer, "VIP") and not remove_tag(buyer, "VIP")
        for bad in ("", "x" * 21, "a\x00b"):
            with pytest.raises(BookError):
                add_tag(buyer, bad)
        await add_note(session, buyer, (1, "zhang"), "  周五回电 ", clock.now())
        with pytest.raises(BookError):
            await add_note(session, buyer, (1, "zhang"), "x" * 1001, clock.now())
    async with sessions() as session, session.begin():
        assert (await session.get(Buyer, ids[0])).tags == ["看过 直播"]
        notes = await notes_for(session, ids[0])
        assert [(n.body, n.author_name) for n in notes] == [("周五回电", "zhang")]
        assert await delete_notes(session, ids[0]) == 1


async def test_card_edits_use_the_cards_parsers(sessions, clock):
    ids = await _seed(sessions, clock, n=1)
    async with sessions() as session, session.begin():
        buyer = await session.get(Buyer, ids[0])
        assert edit_card_field(buyer, "region", "广东 广州", []) == (
            {"region": ""},
            {"region": "广东省 广州市"},
        )
        edit_card_field(buyer, "volume", "2-5万", [])
        assert (buyer.volume_min, buyer.volume_max) == (20000, 50000)
        edit_card_field(buyer, "business_type", "淘宝", [])
        assert buyer.business_type == "taobao"
        with pytest.raises(BookError, match="手机"):
            edit_card_field(buyer, "phone", "12345", [])
        with pytest.raises(BookError, match="没有这个名片字段"):
            edit_card_field(buyer, "tier_key", "gold", [])
        edit_card_field(buyer, "company", "", [])  # empty clears
        assert buyer.company is None
    async with sessions() as session:
        assert (await session.get(Buyer, ids[0])).province == "广东省"


async def test_every_shown_card_value_saves_back_unchanged(sessions, clock):
    from members.buyer_card_edit import card_fields

    ids = await _seed(sessions, clock, n=1)
    async with sessions() as session, session.begin():
        buyer = await session.get(Buyer, ids[0])
        for field, text in (("business_type", "批发"), ("volume", "2万以上"), ("region", "广州"),
                            ("channels", "淘宝、抖音")):  # fmt: skip
            edit_card_field(buyer, field, text, ["女装"])
        for field, _label, shown, prefill in card_fields(buyer):
            before, after = edit_card_field(buyer, field, prefill, ["女装"])
            assert before == after == {field: shown}
