"""会员等级 over HTTP: the cards and tabs, an admin's ladder edit with its preview of moves
(nothing saved or sent before 保存), manual tiers with a required reason, and 重算."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.models import Buyer
from console.audit import AuditEntry
from members.orders import Order
from members.tiers import TierChange, TierRuleSet

TIERS = {
    "levels": [
        {"key": "normal", "name": "普通会员", "rank": 0},
        {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000, "min_orders": 10,
         "grace_days": 30},
        {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000, "min_orders": 30,
         "perks": ["专属客服"], "badge": "【金卡】", "grace_days": 30},
    ]
}  # fmt: skip


def _ladder_form(gold_spend: str) -> dict:
    form: dict[str, list[str]] = {
        f: []
        for f in ("key", "name", "rank", "min_spend", "min_orders", "perks", "badge", "grace_days")
    }
    for key, name, rank, spend, orders, grace in (
        ("normal", "普通会员", "0", "", "", "0"),
        ("silver", "银卡会员", "1", "5000", "10", "30"),
        ("gold", "金卡会员", "2", gold_spend, "30", "30"),
    ):
        for f, v in zip(form, (key, name, rank, spend, orders, "专属客服", "", grace), strict=True):
            form[f].append(v)
    return form


def _pairs(form: dict) -> list[tuple[str, str]]:
    return [(k, v) for k, values in form.items() for v in values]


async def _tiered_app(aiohttp_client, make_config, clock):
    from laoke.app import create_app
    from tests.console.conftest import ConsoleClient

    app = create_app(make_config(tiers=TIERS), clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    async with console.sessionmaker() as session, session.begin():
        for i, (spend, tier) in enumerate([(12000.0, "silver"), (15000.0, "silver"),
                                           (25000.0, "gold"), (100.0, "normal")]):  # fmt: skip
            buyer = Buyer(openid=f"o{i}", first_seen_at=clock.now(), display_name=f"买家{i}",
                          spend_12m=spend, orders_12m=1, tier_key=tier)  # fmt: skip
            session.add(buyer)
            await session.flush()
            session.add(Order(order_no=f"N{i}", account=None, amount_cents=int(spend * 100),
                              ordered_at=clock.now() - timedelta(days=10), status="交易成功",
                              counted=True, buyer_id=buyer.id, first_import="t", last_import="t",
                              updated_at=clock.now()))  # fmt: skip
    return console


async def test_cards_show_thresholds_counts_and_links(aiohttp_client, make_config, clock):
    console = await _tiered_app(aiohttp_client, make_config, clock)
    viewer = await console.login_as("viewer")
    html = await (await console.client.get("/admin/tiers", headers=viewer)).text()
    assert "近12个月采购满 ¥20,000 或 30 单" in html
    assert '<a href="/admin/buyers?tier=silver">2 位会员' in html
    assert "编辑等级规则" not in html and "重算全部等级" not in html
    for tab in ("risk", "manual", "changes", "unmatched"):
        resp = await console.client.get(f"/admin/tiers?tab={tab}", headers=viewer)
        assert resp.status == 200
    assert (await console.client.get("/admin/tiers/edit", headers=viewer)).status == 403


async def test_admin_previews_a_threshold_change_then_saves_it_audited(
    aiohttp_client, make_config, clock
):
    console = await _tiered_app(aiohttp_client, make_config, clock)
    admin = await console.login_as("admin")
    resp = await console.client.get("/admin/tiers/edit", params=_pairs(_ladder_form("1万")),
                                    headers=admin)  # fmt: skip
    html = await resp.text()
    assert resp.status == 200
    assert "预计 2 人升级、0 人进入宽限期、0 人直接降级，2 人不变" in html
    async with console.sessionmaker() as session:
        assert await session.get(TierRuleSet, 1) is None  # the preview saved nothing

    bad = _ladder_form("1万")
    bad["min_spend"][1] = "3万"  # silver above gold
    resp = await console.client.get("/admin/tiers/edit", params=_pairs(bad), headers=admin)
    assert resp.status == 400 and "门槛低于下一级" in await resp.text()

    resp = await console.client.post("/admin/tiers/rules", data=_pairs(_ladder_form("1万")),
                                     headers=admin, allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    async with console.sessionmaker() as session:
        stored = await session.get(TierRuleSet, 1)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "tiers.rules"))
        changes = await session.scalar(select(func.count()).select_from(TierChange))
    assert [lvl["min_spend"] for lvl in stored.levels] == [None, 5000.0, 10000.0]
    assert entry.before["levels"][2]["min_spend"] == 20000.0
    assert entry.after["levels"][2]["min_spend"] == 10000.0
    assert changes == 0  # saving moves nobody and tells nobody
    # The stored ladder is the one in force: the cards and the recompute use it.
    html = await (await console.client.get("/admin/tiers", headers=admin)).text()
    assert "近12个月采购满 ¥10,000 或 30 单" in html
    resp = await console.client.post("/admin/tiers/recompute", headers=admin,
                                     allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and "up=2" in resp.headers["Location"]
    async with console.sessionmaker() as session:
        golds = await session.scalar(select(func.count()).where(Buyer.tier_key == "gold"))
    assert golds == 3


async def test_operator_sets_a_tier_by_hand_with_a_required_reason(
    aiohttp_client, make_config, clock
):
    console = await _tiered_app(aiohttp_client, make_config, clock)
    operator = await console.login_as("operator")
    async with console.sessionmaker() as session:
        buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == "o3"))
    form = {"buyer_id": str(buyer_id), "key": "gold", "reason": ""}
    resp = await console.client.post("/admin/tiers/manual", data=form, headers=operator)
    assert resp.status == 400 and "原因" in await resp.text()
    for bad, message in (({"buyer_id": "x"}, "买家编号"), ({"buyer_id": "999999"}, "找不到"),
                         ({"key": "platinum"}, "没有这个等级"), ({"until": "2020-01-01"}, "已经过去"),
                         ({"until": "tomorrow"}, "格式")):  # fmt: skip
        resp = await console.client.post(
            "/admin/tiers/manual", data=form | {"reason": "年框协议"} | bad, headers=operator
        )
        assert resp.status == 400 and message in await resp.text(), bad
    resp = await console.client.post(
        "/admin/tiers/manual", headers=operator, allow_redirects=False,
        data=form | {"reason": "年框协议", "until": "2026-12-31"},
    )  # fmt: skip
    assert resp.status == 303
    async with console.sessionmaker() as session:
        buyer = await session.get(Buyer, buyer_id)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "tiers.manual"))
    assert (buyer.tier_key, buyer.tier_manual_key, buyer.tier_manual_reason) == (
        "gold", "gold", "年框协议")  # fmt: skip
    assert entry.after["reason"] == "年框协议"
    html = await (await console.client.get("/admin/tiers?tab=manual", headers=operator)).text()
    assert "年框协议" in html and "2026-12-31 23:59" in html


async def test_demo_seeding_fills_history_preset_and_a_manual_tier(
    aiohttp_client, make_config, clock
):
    from demo.demo import seed_buyers
    from demo.demo_order_imports import seed_demo_order_imports
    from demo.orders_demo import seed_demo_orders

    console = await _tiered_app(aiohttp_client, make_config, clock)
    from bot.appkeys import CONFIG

    config = console.app[CONFIG]
    for seeder in (seed_buyers, seed_demo_orders, seed_demo_order_imports,
                   seed_demo_order_imports):  # fmt: skip
        await seeder(console.sessionmaker, config, clock)
    operator = await console.login_as("operator")
    orders_page = await (await console.client.get("/admin/orders", headers=operator)).text()
    assert orders_page.count("1688订单导出_2026-") == 2  # seeded once, not twice
    manual = await (await console.client.get("/admin/tiers?tab=manual", headers=operator)).text()
    assert "年框协议客户" in manual


async def test_recent_changes_are_listed_newest_first_by_when_they_happened(
    aiohttp_client, make_config, clock
):
    console = await _tiered_app(aiohttp_client, make_config, clock)
    now = clock.now()
    async with console.sessionmaker() as session, session.begin():
        ids = list(await session.scalars(select(Buyer.id).order_by(Buyer.id)))
        # Inserted out of time order, as an import of old orders does.
        for buyer_id, days_ago, note in (
            (ids[0], 1, "昨天"),
            (ids[1], 30, "上月"),
            (ids[2], 3, "前几天"),
        ):
            session.add(
                TierChange(buyer_id=buyer_id, from_key="normal", to_key="silver", reason="manual",
                           note=note, created_at=now - timedelta(days=days_ago))
            )  # fmt: skip
    viewer = await console.login_as("viewer")
    html = await (await console.client.get("/admin/tiers?tab=changes", headers=viewer)).text()
    assert html.index("昨天") < html.index("前几天") < html.index("上月")
