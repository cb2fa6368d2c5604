"""买家 routes as staff use them: bad parameters get a clear message (never a 5xx), viewers
read with masked phones and cannot change anything, bulk tags reach the whole filter (not the
page) after a confirmation naming the exact count, 存为分群 saves a segment counting the same
buyers, and the buyer page's changes are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.models import Buyer
from console.models import AuditEntry
from scheduler.saved_segments import count_segment, get_segment
from tests.tiers_fixture import GOLD, SILVER

TIERS = {"levels": [SILVER, GOLD]}


@pytest.fixture
async def book(aiohttp_client, make_config, clock):
    from laoke.app import create_app
    from tests.console.conftest import ConsoleClient

    app = create_app(make_config(tiers=TIERS), clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    now = clock.now()
    async with console.sessionmaker() as session, session.begin():
        for i in range(120):
            session.add(
                Buyer(
                    openid=f"o-{i:04d}",
                    first_seen_at=now,
                    display_name=f"买家{i}",
                    phone=f"1380000{i:04d}",
                    tier_key="gold" if i % 2 else None,
                    last_interaction_at=now - timedelta(hours=i),
                    orders_total=i % 3,
                )
            )
    return console


async def _get(console, path, headers):
    resp = await console.client.get(path, headers=headers, allow_redirects=False)
    return resp.status, await resp.text()


async def test_viewer_sees_masked_phones_and_no_edit_controls(book):
    viewer = await book.login_as("viewer")
    status, body = await _get(book, "/admin/buyers?q=0007", viewer)
    assert status == 200
    assert "138****0007" in body and "13800000007" not in body
    assert "打标签" not in body and "存为分群" not in body
    buyer_id = await _id(book, "o-0007")
    status, body = await _get(book, f"/admin/buyers/{buyer_id}", viewer)
    assert status == 200 and "138****0007" in body
    assert "添加标签" not in body and "删除资料" not in body and "/card" not in body
    operator = await book.login_as("operator")
    status, body = await _get(book, "/admin/buyers?q=0007", operator)
    assert "13800000007" in body


async def test_viewer_cannot_post(book):
    viewer = await book.login_as("viewer")
    buyer_id = await _id(book, "o-0001")
    for path, data in (
        (f"/admin/buyers/{buyer_id}/tags", {"action": "add", "tag": "x"}),
        ("/admin/buyers/bulk", {"action": "add", "bulk_tag": "x", "count": "120"}),
        ("/admin/buyers/segment", {"name": "s", "tier": "gold"}),
    ):
        resp = await book.client.post(path, data=data, headers=viewer, allow_redirects=False)
        assert resp.status == 403
    async with book.sessionmaker() as session:
        assert (await session.get(Buyer, buyer_id)).tags == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tier=golden", "等级"),
        ("status=vip", "客户状态"),
        ("days=-3", "最近互动天数"),
        ("days=99999999999999999999", "最近互动天数"),
        ("region=火星", "不认识的地区"),
        ("tag=a,b", "标签不能包含"),
        ("sort=price", "排序方式无效"),
        ("dir=up", "排序方向"),
        ("after=garbage", "翻页参数无效"),
        ("q=" + "长" * 80, "搜索词最多"),
    ],
)
async def test_bad_parameters_get_a_clear_message(book, query, message):
    viewer = await book.login_as("viewer")
    status, body = await _get(book, f"/admin/buyers?{query}", viewer)
    assert status == 400 and message in body


async def test_unknown_buyer_is_404_not_500(book):
    viewer = await book.login_as("viewer")
    for path in ("/admin/buyers/999999", "/admin/buyers/abc", "/admin/buyers/99999999999999999999"):
        status, _ = await _get(book, path, viewer)
        assert status == 404


async def test_pages_and_no_match_explains_the_filter(book):
    viewer = await book.login_as("viewer")
    status, body = await _get(book, "/admin/buyers?tier=gold", viewer)
    assert "50 条 · 共" in body and "下一页" in body
    # The total comes separately, so the page never waits for a count of every buyer.
    assert 'hx-get="/admin/buyers/total?tier=gold"' in body
    status, total = await _get(book, "/admin/buyers/total?tier=gold", viewer)
    assert status == 200 and total == "60"
    status, body = await _get(book, "/admin/buyers?tier=gold&q=不存在的人", viewer)
    assert "没有符合「金卡会员 · 搜索「不存在的人」」的买家" in body and "清除筛选" in body


async def test_bulk_tag_applies_to_the_whole_filter_after_confirming_the_count(book):
    operator = await book.login_as("operator")
    status, body = await _get(
        book, "/admin/buyers/bulk?tier=gold&action=add&bulk_tag=金卡关怀", operator
    )
    assert status == 200 and "<dialog open" in body
    assert "60 位" in body and "金卡会员" in body  # the filter in words, the exact count
    # a stale count (the filter matched a different number when confirmed) is refused
    data = {"tier": "gold", "action": "add", "bulk_tag": "金卡关怀", "count": "50"}
    resp = await book.client.post(
        "/admin/buyers/bulk", data=data, headers=operator, allow_redirects=False
    )
    assert resp.status == 400 and "请重新确认" in await resp.text()
    data["count"] = "60"
    resp = await book.client.post(
        "/admin/buyers/bulk", data=data, headers=operator, allow_redirects=False
    )
    assert resp.status == 303
    _, body = await _get(book, resp.headers["Location"], operator)
    assert "已为 60 位买家打上标签「金卡关怀」" in body
    async with book.sessionmaker() as session:
        tagged = [b for b in await session.scalars(select(Buyer)) if "金卡关怀" in b.tags]
        assert len(tagged) == 60 > 50  # more than the visible page
        assert all(b.tier_key == "gold" for b in tagged)
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "buyer.bulk_tag_add")
        )
        assert entry.after["changed"] == 60 and entry.before["matched"] == 60


async def test_save_as_segment_counts_what_the_list_showed(book):
    operator = await book.login_as("operator")
    data = {"tier": "gold", "status": "new", "name": "金卡新客"}
    resp = await book.client.post(
        "/admin/buyers/segment", data=data, headers=operator, allow_redirects=False
    )
    assert resp.status == 303
    _, body = await _get(book, "/admin/buyers/total?tier=gold&status=new", operator)
    async with book.sessionmaker() as session:
        segment = await get_segment(session, "金卡新客")
        counts = await count_segment(session, segment.spec, book.clock.now())
    assert body == str(counts.matching) and counts.matching == 20
    resp = await book.client.post(
        "/admin/buyers/segment", data=data, headers=operator, allow_redirects=False
    )
    assert resp.status == 400 and "已有名为「金卡新客」的分群" in await resp.text()
    data = {"q": "买家", "tier": "gold", "name": "x"}
    resp = await book.client.post(
        "/admin/buyers/segment", data=data, headers=operator, allow_redirects=False
    )
    assert resp.status == 400 and "搜索词不能存为分群" in await resp.text()


async def test_buyer_page_changes_are_audited(book):
    operator = await book.login_as("operator", name="zhang")
    buyer_id = await _id(book, "o-0003")
    base = f"/admin/buyers/{buyer_id}"

    async def post(path, data):
        return await book.client.post(
            base + path, data=data, headers=operator, allow_redirects=False
        )

    resp = await post("/tags", {"action": "add", "tag": "直播常客"})
    assert resp.status == 303 and "undo=remove" in resp.headers["Location"]
    status, body = await _get(book, resp.headers["Location"], operator)
    assert "撤销" in body and "直播常客" in body
    assert (await post("/card", {"field": "phone", "value": "123"})).status == 400
    assert (await post("/card", {"field": "region", "value": "浙江 杭州"})).status == 303
    assert (await post("/notes", {"body": "要样品"})).status == 303
    status, body = await _get(book, base, operator)
    assert "员工修改" in body and "浙江省 杭州市" in body and "要样品" in body
    assert (await post("/erase", {"confirm_name": "别人"})).status == 400
    assert (await post("/erase", {"confirm_name": "买家3"})).status == 303
    async with book.sessionmaker() as session:
        buyer = await session.get(Buyer, buyer_id)
        assert buyer.display_name is None and buyer.tags == [] and buyer.phone is None
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(buyer_id))
            )
        )
        assert {"buyer.tag_add", "buyer.card", "buyer.note", "buyer.erase"} <= actions
        # the card values the earlier entries quoted are gone with the data
        card_entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "buyer.card")
        )
        assert card_entry.before is None and "杭州" not in str(card_entry.after)
        from members.buyer_notes import BuyerNote

        assert await session.scalar(select(func.count()).select_from(BuyerNote)) == 0


async def _id(console, openid: str) -> int:
    async with console.sessionmaker() as session:
        return await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
