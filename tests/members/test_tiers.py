"""Tiers: thresholds, the trailing window, manual override and expiry, grace, the change log,
and each channel a tier-change notice takes (against the fake WeChat)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tiers_fixture import tiers

from bot.config import ConfigError, TiersConfig, parse_config
from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from bot.models import Buyer, OutboundMessage
from bot.wechat.client import WeChatAPI
from members.order_import import import_orders
from members.tier_recompute import recompute_all_tiers, recompute_tiers
from members.tiers import (
    Ladder,
    TierChange,
    TierError,
    decide,
    set_manual_tier,
    window_start,
)

TIERS = tiers(min_spend=50000)
LADDER = Ladder(TiersConfig.model_validate(TIERS))
NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


def earned(orders: int = 0, spend: float = 0.0) -> str | None:
    tier = LADDER.earned(orders, spend)
    return tier.key if tier else None


def decide_for(current=None, *, orders=0, spend=0.0, manual=None, until=None, below=None, now=NOW):
    return decide(
        LADDER,
        current=current,
        manual_key=manual,
        manual_until=until,
        below_since=below,
        orders=orders,
        spend=spend,
        now=now,
    )


# --- thresholds and decisions (no database) ----------------------------------------------


def test_spend_exactly_at_the_threshold_earns_the_tier():
    assert earned(spend=5000) == "silver"
    assert earned(spend=4999.99) is None


def test_float_sums_a_hair_under_the_threshold_still_count_as_reached():
    assert earned(spend=0.1 + 0.2 + 4999.7) == "silver"  # 4999.999999…


def test_either_threshold_of_a_tier_is_enough():
    assert earned(orders=30, spend=100) == "gold"
    assert earned(orders=29, spend=100) is None


def test_the_highest_qualifying_tier_wins():
    assert earned(orders=1, spend=50000) == "diamond"
    assert earned(orders=30, spend=6000) == "gold"


def test_upgrade_is_immediate_and_says_why():
    d = decide_for("silver", spend=20000)
    assert (d.tier_key, d.reason) == ("gold", "orders")


def test_unchanged_tier_has_no_reason():
    assert decide_for("silver", spend=6000).reason is None


def test_manual_tier_wins_over_orders_until_it_expires():
    until = NOW + timedelta(days=10)
    d = decide_for(None, spend=0, manual="diamond", until=until)
    assert (d.tier_key, d.reason) == ("diamond", "manual")
    later = decide_for("diamond", spend=6000, manual="diamond", until=until, now=until)
    assert (later.tier_key, later.reason, later.clear_manual) == ("silver", "manual_expired", True)


def test_manual_tier_without_expiry_holds():
    d = decide_for("gold", manual="gold", now=NOW + timedelta(days=3650))
    assert (d.tier_key, d.reason) == ("gold", None)


def test_downgrade_without_grace_is_immediate():
    d = decide_for("silver", spend=100)
    assert (d.tier_key, d.reason) == (None, "orders")


def test_downgrade_waits_for_the_grace_period_then_happens():
    start = decide_for("gold", spend=6000)
    assert (start.tier_key, start.below_since, start.reason) == ("gold", NOW, None)
    day29 = decide_for("gold", spend=6000, below=NOW, now=NOW + timedelta(days=29))
    assert (day29.tier_key, day29.below_since) == ("gold", NOW)
    day30 = decide_for("gold", spend=6000, below=NOW, now=NOW + timedelta(days=30))
    assert (day30.tier_key, day30.reason, day30.below_since) == ("silver", "grace_ended", None)


def test_recovering_during_the_grace_period_keeps_the_tier_and_ends_the_grace():
    d = decide_for("gold", spend=25000, below=NOW, now=NOW + timedelta(days=5))
    assert (d.tier_key, d.below_since, d.reason) == ("gold", None, None)


def test_a_tier_removed_from_the_configuration_is_replaced_at_once():
    d = decide_for("platinum", spend=6000)
    assert (d.tier_key, d.reason) == ("silver", "orders")


def test_window_start_is_whole_calendar_months_back():
    assert window_start(datetime(2026, 5, 18, 2, tzinfo=UTC), 12) == datetime(
        2025, 5, 18, 2, tzinfo=UTC
    )
    assert window_start(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)


def test_tier_configuration_names_a_duplicate_key_or_rank():
    base = {"wechat": {"appid": "a", "secret": "b", "token": "c"}}
    with pytest.raises(ConfigError, match="tier key 'gold' is used twice"):
        parse_config(
            {
                **base,
                "tiers": {
                    "levels": [
                        {"key": "gold", "name": "A", "rank": 1},
                        {"key": "gold", "name": "B", "rank": 2},
                    ]
                },
            },
            env={},
        )
    with pytest.raises(ConfigError, match="levels.1.rank"):
        parse_config(
            {
                **base,
                "tiers": {
                    "levels": [
                        {"key": "a", "name": "A", "rank": 1},
                        {"key": "b", "name": "B", "rank": 1},
                    ]
                },
            },
            env={},
        )


# --- on the database ---------------------------------------------------------------------


@pytest.fixture
def make_services(make_config, clock, sessions, http, fake_wechat):
    def build(tiers=None, template_id: str | None = None, **tier_options) -> Services:
        wechat = {**fake_wechat.wechat_config(), "busy_backoff_s": 0.0}
        if template_id:
            wechat["template_ids"] = {"tier_change": template_id}
        config = make_config(tiers={**(tiers or TIERS), **tier_options}, wechat=wechat)
        api = WeChatAPI(config.wechat, sessions, clock, http, Metrics())
        return Services(config, Renderer(), api, clock, Metrics())

    return build


async def add_buyer(sessions, openid: str, account: str | None = None, **fields) -> int:
    async with sessions() as session:
        buyer = Buyer(
            openid=openid,
            first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
            platform_account=account,
            **fields,
        )
        session.add(buyer)
        await session.commit()
        return buyer.id


async def add_orders(sessions, services: Services, *rows: tuple) -> None:
    """rows: (order_no, account, amount, local time, status)."""
    result = await import_orders(
        sessions,
        [
            (i, (no, acc, None, amount, when, status))
            for i, (no, acc, amount, when, status) in enumerate(rows, 1)
        ],
        services.config.orders,
        services.clock.now(),
    )
    assert result.bad_count == 0, result.bad_rows


async def buyer(sessions, openid: str) -> Buyer:
    async with sessions() as session:
        return await session.scalar(select(Buyer).where(Buyer.openid == openid))


async def changes(sessions) -> list[tuple]:
    async with sessions() as session:
        rows = await session.scalars(select(TierChange).order_by(TierChange.id))
        return [(c.from_key, c.to_key, c.reason, c.notice) for c in rows]


async def test_only_orders_inside_the_trailing_window_count(sessions, make_services):
    services = make_services()  # the fake clock says 2026-05-18 10:00 in Shanghai
    await add_buyer(sessions, "oA", "tb_a")
    await add_orders(
        sessions,
        services,
        ("1", "tb_a", "4000", "2025-05-18 11:00:00", "交易成功"),  # inside
        ("2", "tb_a", "4000", "2025-05-18 09:00:00", "交易成功"),
    )  # just outside
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    b = await buyer(sessions, "oA")
    assert (b.orders_12m, b.spend_12m, b.orders_total, b.tier_key) == (1, 4000.0, 2, None)


async def test_cancelled_and_refunded_orders_do_not_count(sessions, make_services):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a")
    await add_orders(
        sessions,
        services,
        ("1", "tb_a", "¥3,000.00", "2026-05-01 10:00", "交易成功"),
        ("2", "tb_a", "¥3,000.00", "2026-05-02 10:00", "交易关闭"),
        ("3", "tb_a", "¥3,000.00", "2026-05-03 10:00", "已退款"),
        ("4", "tb_a", "¥3,000.00", "2026-05-04 10:00", "已取消"),
    )
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    b = await buyer(sessions, "oA")
    assert (b.orders_12m, b.spend_12m, b.tier_key) == (1, 3000.0, None)


async def test_recompute_records_each_change_once(sessions, make_services):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a")
    await add_orders(sessions, services, ("1", "tb_a", "20000", "2026-05-01 10:00", "交易成功"))
    first = await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    again = await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    assert (first.changes, first.upgrades, again.changes) == (1, 1, 0)
    assert await changes(sessions) == [(None, "gold", "orders", "pending")]
    b = await buyer(sessions, "oA")
    assert (b.tier_key, b.tier_since) == ("gold", services.clock.now())


async def test_downgrade_after_the_window_slides_waits_for_grace(sessions, make_services, clock):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a")
    await add_orders(
        sessions,
        services,
        ("1", "tb_a", "20000", "2025-06-01 10:00", "交易成功"),
        ("2", "tb_a", "6000", "2026-05-01 10:00", "交易成功"),
    )
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    clock.advance(days=20)  # the ¥20,000 order leaves the window
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    b = await buyer(sessions, "oA")
    assert (b.tier_key, b.tier_below_since) == ("gold", clock.now())
    clock.advance(days=30)
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    b = await buyer(sessions, "oA")
    assert (b.tier_key, b.tier_below_since) == ("silver", None)
    # Downgrades are not announced unless configured.
    assert (await changes(sessions))[-1] == ("gold", "silver", "grace_ended", "none")


async def test_manual_tier_is_recorded_with_the_reason_and_expires(sessions, make_services, clock):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a")
    async with sessions() as session:
        b = await session.scalar(select(Buyer).where(Buyer.openid == "oA"))
        await set_manual_tier(
            session,
            b,
            "diamond",
            reason="展会大客户",
            until=clock.now() + timedelta(days=7),
            services=services,
        )
        await session.commit()
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    assert (await buyer(sessions, "oA")).tier_key == "diamond"
    clock.advance(days=7)
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    b = await buyer(sessions, "oA")
    assert (b.tier_key, b.tier_manual_key, b.tier_manual_until) == (None, None, None)
    async with sessions() as session:
        rows = (await session.scalars(select(TierChange).order_by(TierChange.id))).all()
    assert [(c.to_key, c.reason, c.note) for c in rows] == [
        ("diamond", "manual", "展会大客户"),
        (None, "manual_expired", None),
    ]


async def test_manual_tier_rejects_an_unknown_key_naming_the_known_ones(sessions, make_services):
    services = make_services()
    await add_buyer(sessions, "oA")
    async with sessions() as session:
        b = await session.scalar(select(Buyer).where(Buyer.openid == "oA"))
        with pytest.raises(TierError, match="silver, gold, diamond"):
            await set_manual_tier(session, b, "vip", reason="x", until=None, services=services)


async def test_manual_tier_handed_back_returns_to_the_earned_tier(sessions, make_services):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a")
    await add_orders(sessions, services, ("1", "tb_a", "6000", "2026-05-01 10:00", "交易成功"))
    await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    async with sessions() as session:
        b = await session.scalar(select(Buyer).where(Buyer.openid == "oA"))
        await set_manual_tier(session, b, "gold", reason="试用", until=None, services=services)
        await set_manual_tier(session, b, None, reason="试用结束", until=None, services=services)
        await session.commit()
    assert (await buyer(sessions, "oA")).tier_key == "silver"
    assert [c[:3] for c in await changes(sessions)][-2:] == [
        ("silver", "gold", "manual"),
        ("gold", "silver", "manual_cleared"),
    ]


# --- notices -----------------------------------------------------------------------------


async def upgrade_to_gold(sessions, services, openid="oA", **buyer_fields) -> None:
    await add_buyer(sessions, openid, f"tb_{openid}", **buyer_fields)
    await add_orders(
        sessions, services, (f"n{openid}", f"tb_{openid}", "20000", "2026-05-01 10:00", "交易成功")
    )


async def outbound(sessions) -> list[tuple]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        return [(o.channel, o.purpose, o.result, o.errcode) for o in rows]


async def test_upgrade_inside_the_window_is_a_customer_service_message_with_perks(
    sessions, make_services, fake_wechat, clock
):
    services = make_services()
    await upgrade_to_gold(sessions, services, last_interaction_at=clock.now() - timedelta(hours=47))
    fake_wechat.open_window("oA", clock.now() - timedelta(hours=47))
    result = await recompute_all_tiers(sessions, services)
    assert result.notices == {"custom": 1}
    [sent] = fake_wechat.messages("oA")
    assert sent["kind"] == "custom"
    assert "金卡会员" in sent["content"] and "专属客服" in sent["content"]
    assert await outbound(sessions) == [("custom", "tier_change", "ok", None)]
    assert (await changes(sessions))[0][3] == "custom"


async def test_upgrade_outside_the_window_uses_the_template_when_configured(
    sessions, make_services, fake_wechat, clock
):
    services = make_services(template_id="TPL_TIER")
    await upgrade_to_gold(sessions, services, last_interaction_at=clock.now() - timedelta(hours=49))
    result = await recompute_all_tiers(sessions, services)
    assert result.notices == {"template": 1}
    [sent] = fake_wechat.messages("oA")
    assert (sent["kind"], sent["template_id"]) == ("template", "TPL_TIER")
    assert sent["data"] == {"thing1": {"value": "金卡会员"}, "time2": {"value": "2026-05-18"}}
    assert (await buyer(sessions, "oA")).pending_notice is None


async def test_without_a_window_or_template_the_notice_waits_on_the_buyer(
    sessions, make_services, fake_wechat, clock
):
    services = make_services()
    await upgrade_to_gold(sessions, services, last_interaction_at=clock.now() - timedelta(days=5))
    result = await recompute_all_tiers(sessions, services)
    assert result.notices == {"stored": 1}
    assert fake_wechat.messages("oA") == []
    assert "金卡会员" in (await buyer(sessions, "oA")).pending_notice


async def test_a_refused_customer_service_message_falls_back_to_the_template(
    sessions, make_services, fake_wechat, clock
):
    # Our record says the window is open, WeChat says it is not (45015): try the template.
    services = make_services(template_id="TPL_TIER")
    await upgrade_to_gold(sessions, services, last_interaction_at=clock.now() - timedelta(hours=1))
    result = await recompute_all_tiers(sessions, services)
    assert result.notices == {"template": 1}
    assert await outbound(sessions) == [
        ("custom", "tier_change", "failed", 45015),
        ("template", "tier_change", "ok", None),
    ]


async def test_unfollowed_buyers_are_sent_nothing(sessions, make_services, fake_wechat, clock):
    services = make_services(template_id="TPL_TIER")
    await upgrade_to_gold(sessions, services, subscribed=False)
    assert (await recompute_all_tiers(sessions, services)).notices == {"stored": 1}
    assert fake_wechat.messages("oA") == []


async def test_downgrades_are_announced_only_when_configured(
    sessions, make_services, fake_wechat, clock
):
    for announce, expected in ((False, []), (True, ["custom"])):
        services = make_services(announce_downgrades=announce)
        openid = f"o{announce}"
        await add_buyer(
            sessions, openid, f"tb_{openid}", tier_key="silver", last_interaction_at=clock.now()
        )
        fake_wechat.open_window(openid)
        await recompute_all_tiers(sessions, services)
        assert [m["kind"] for m in fake_wechat.messages(openid)] == expected
    [sent] = fake_wechat.messages("oTrue")
    assert "银卡会员" in sent["content"] and "调整为" in sent["content"]


async def test_several_pending_changes_are_announced_as_one(
    sessions, make_services, fake_wechat, clock
):
    services = make_services()
    await add_buyer(sessions, "oA", "tb_a", last_interaction_at=clock.now())
    fake_wechat.open_window("oA")
    await add_orders(sessions, services, ("1", "tb_a", "6000", "2026-05-01 10:00", "交易成功"))
    await recompute_tiers(sessions, services.config.tiers, clock.now())
    await add_orders(sessions, services, ("2", "tb_a", "50000", "2026-05-02 10:00", "交易成功"))
    await recompute_all_tiers(sessions, services)
    [sent] = fake_wechat.messages("oA")
    assert "钻石会员" in sent["content"]
    assert [c[3] for c in await changes(sessions)] == ["superseded", "custom"]


async def test_without_tiers_configured_a_recompute_clears_old_tiers(sessions, make_services):
    services = make_services(tiers={"levels": []})
    await add_buyer(sessions, "oA", "tb_a", tier_key="gold")
    await add_orders(sessions, services, ("1", "tb_a", "20000", "2026-05-01 10:00", "交易成功"))
    result = await recompute_tiers(sessions, services.config.tiers, services.clock.now())
    assert (result.changes, (await buyer(sessions, "oA")).tier_key) == (1, None)


async def test_a_template_message_layout_saved_in_the_console_overrides_the_config(
    sessions, make_services, fake_wechat, clock
):
    from content import template_messages as tm
    from content.overrides import PublishedTemplates, refresh

    services = make_services(template_id="TPL_FROM_CONFIG")
    async with sessions() as session, session.begin():
        await tm.save(
            session, "tier_change", "TPL_FROM_DB",
            {"thing1": "{tier_name}", "time2": "{date}"},
            "https://shop.example.com/vip", "张三", clock.now(),
        )  # fmt: skip
    source = PublishedTemplates(services.renderer, services.template_messages)
    async with sessions() as session, session.begin():
        await refresh(session, source)
    await upgrade_to_gold(sessions, services, last_interaction_at=clock.now() - timedelta(hours=49))
    await recompute_all_tiers(sessions, services)
    [sent] = fake_wechat.messages("oA")
    assert sent["template_id"] == "TPL_FROM_DB"
    assert sent["data"] == {"thing1": {"value": "金卡会员"}, "time2": {"value": "2026-05-18"}}
    assert sent["url"] == "https://shop.example.com/vip"
