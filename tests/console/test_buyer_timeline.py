"""The buyer page's read model and the list's filter chips, on SQLite and PostgreSQL: the
timeline gathers every source (messages both ways, orders, deliveries with outcomes, tier
changes, card steps, staff edits) and filters by type; each chip selects what it says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import parse_config
from bot.inbound.events import BuyerEvent
from bot.models import Buyer, InboundMessage, OutboundMessage
from console import audit
from console.buyer_filters import BuyerFilters, condition, in_words, parse_filters, to_spec
from console.queries.buyer_timeline import tier_progress, timeline, window_hours_left
from members.buyer_book import BookError, count_buyers, list_buyers
from members.orders import Order
from members.tiers import TierChange
from scheduler.models import Campaign, CampaignStep, Delivery
from tests.tiers_fixture import GOLD, SILVER

CONFIG = parse_config(
    {
        "wechat": {"appid": "wx0", "secret": "s", "token": "t"},
        "tiers": {"levels": [SILVER, GOLD]},
        "card": {"interest_categories": ["女装", "男装"]},
    },
    env={},
)


async def test_timeline_gathers_every_source_and_filters_by_type(sessions, clock):
    now = clock.now()
    async with sessions() as session, session.begin():
        buyer = Buyer(openid="o-t", first_seen_at=now, last_interaction_at=now - timedelta(hours=5))
        session.add(buyer)
        await session.flush()
        session.add_all([
            InboundMessage(dedup_key="k1", openid="o-t", msg_type="text", content="有现货吗",
                           received_at=now - timedelta(hours=5)),
            OutboundMessage(openid="o-t", channel="custom", purpose="campaign", content="直播啦",
                            created_at=now - timedelta(hours=4), result="ok"),
            Order(order_no="N1", amount_cents=128050, ordered_at=now - timedelta(days=2),
                  status="交易成功", buyer_id=buyer.id, first_import="a", last_import="a",
                  updated_at=now),
            TierChange(buyer_id=buyer.id, from_key=None, to_key="silver", reason="orders",
                       created_at=now - timedelta(days=1)),
            TierChange(buyer_id=buyer.id, from_key="silver", to_key="gold", reason="manual",
                       note="年框协议客户", created_at=now - timedelta(days=1, hours=1)),
            BuyerEvent(buyer_id=buyer.id, kind="card_confirmed", at=now - timedelta(days=3)),
        ])  # fmt: skip
        campaign = Campaign(name="5·18 粉丝召回", kind="recall", created_at=now, updated_at=now)
        session.add(campaign)
        await session.flush()
        step = CampaignStep(campaign_id=campaign.id, kind="wave", due_at=now)
        session.add(step)
        await session.flush()
        session.add(Delivery(step_id=step.id, campaign_id=campaign.id, buyer_id=buyer.id,
                             openid="o-t", status="skipped", reason="outside_window",
                             created_at=now - timedelta(hours=1)))  # fmt: skip
        audit.record(session, audit.CLI_ACTOR, "buyer.card", ("buyer", buyer.id),
                     {"phone": ""}, {"phone": "13800138000"}, at=now)  # fmt: skip
    async with sessions() as session:
        buyer = await session.get(Buyer, buyer.id)
        entries = await timeline(session, buyer)
        assert [e.kind for e in entries] == [
            "card", "campaign", "message", "message", "tier", "tier", "order", "card",
        ]  # fmt: skip
        assert entries[0].body == "手机：13800138000"  # the staff edit, by the field's name
        campaign_entry = entries[1]
        assert "5·18 粉丝召回" in campaign_entry.title
        assert campaign_entry.body == "已跳过 · 不在 48 小时窗口内"
        assert [e.title for e in entries if e.kind == "message"] == ["活动推送", "买家消息"]
        assert "¥1,280.50" in next(e.body for e in entries if e.kind == "order")
        names = {"silver": "银卡会员", "gold": "金卡会员"}
        tiers = [e.body for e in await timeline(session, buyer, "tier", tier_names=names)]
        assert tiers == ["无等级 → 银卡会员 · 按采购自动调整",
                         "银卡会员 → 金卡会员 · 手动调整 · 年框协议客户"]  # fmt: skip
        order = next(e for e in entries if e.kind == "order")
        assert (order.title, order.code) == ("订单", "N1")
        only_orders = await timeline(session, buyer, "order")
        assert [e.kind for e in only_orders] == ["order"]
        assert window_hours_left(buyer, now) == 43
        assert window_hours_left(buyer, now + timedelta(hours=43, minutes=1)) is None
        buyer.spend_12m, buyer.orders_12m = 15000.0, 3
        buyer.tier_key = "silver"
        progress = tier_progress(buyer, CONFIG)
        assert progress["next"].key == "gold" and progress["percent"] == 75
        assert progress["gap"] == "再采购 ¥5,000.00 或 27 单"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": "gold"}, {"gold-returning"}),
        ({"tier": "none"}, {"prospect", "lapsed"}),
        ({"status": "lapsed"}, {"lapsed"}),
        ({"status": "prospect"}, {"prospect"}),
        ({"tag": "展会"}, {"prospect"}),
        ({"days": "7"}, {"gold-returning", "prospect"}),
        ({"card": "yes"}, {"gold-returning"}),
        ({"optout": "yes"}, {"lapsed"}),
        ({"region": "广东"}, {"gold-returning"}),
        ({"interest": "女装"}, {"prospect"}),
        ({"btype": "taobao", "tier": "gold"}, {"gold-returning"}),
    ],
)
async def test_each_chip_selects_what_it_says(sessions, clock, params, expected):
    now = clock.now()
    async with sessions() as session, session.begin():
        session.add_all([
            Buyer(openid="gold-returning", first_seen_at=now, tier_key="gold", orders_total=5,
                  orders_12m=3, last_interaction_at=now - timedelta(days=1),
                  card_completed_at=now, province="广东省", city="广州市", business_type="taobao"),
            Buyer(openid="prospect", first_seen_at=now, tags=["展会"], interests=["女装"],
                  last_interaction_at=now - timedelta(days=2)),
            Buyer(openid="lapsed", first_seen_at=now - timedelta(days=400), orders_total=2,
                  orders_12m=0, opted_out=True, last_interaction_at=now - timedelta(days=300)),
        ])  # fmt: skip
    filters = parse_filters(params, CONFIG)
    async with sessions() as session:
        page = await list_buyers(session, condition(filters, now))
        assert {b.openid for b in page.rows} == expected
        assert await count_buyers(session, condition(filters, now), "") == len(expected)
    assert to_spec(filters)["all"]  # every chip is a segment condition
    assert in_words(filters, CONFIG) != "全部买家"


def test_filters_in_words_and_refusals():
    filters = parse_filters({"tier": "gold", "status": "lapsed", "days": "30", "q": "张"}, CONFIG)
    assert in_words(filters, CONFIG) == "金卡会员 · 流失 · 30 天内互动 · 搜索「张」"
    assert in_words(BuyerFilters(), CONFIG) == "全部买家"
    for bad in ({"tier": "golden"}, {"interest": "鞋"}, {"days": "0"}, {"card": "maybe"}):
        with pytest.raises(BookError):
            parse_filters(bad, CONFIG)
