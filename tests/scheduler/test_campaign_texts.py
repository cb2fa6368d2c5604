"""What buyers read in campaign pushes: no internal names, honest labels, 「」 quotes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from campaign_harness import Harness, config_for, iso
from sqlalchemy import select

from bot.models import Buyer
from scheduler.campaigns import add_rsvp

TIERS = {
    "levels": [
        {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 50000, "perks": ["优先发货"]},
    ]
}


@pytest.fixture
async def h(make_config, fake_wechat, clock):
    config = config_for(make_config, fake_wechat)
    config = config.model_copy(update={"tiers": type(config.tiers).model_validate(TIERS)})
    async with Harness(config, clock, fake_wechat) as harness:
        yield harness


def recall(clock, **extra):
    return {
        "kind": "recall",
        "name": "内部：老客回归周 v2",
        "all_day": True,
        "dormant_days": 0,
        "window_start": iso(clock),
        "window_end": iso(clock, days=1),
        **extra,
    }


def texts(h, openid):
    return [m["content"] for m in h.fake.messages(openid)]


async def test_recall_never_shows_the_internal_name_and_labels_perks_honestly(h, clock):
    await h.add_buyers(1, prefix="gold", tier_key="gold", interests=["女装"])
    await h.add_buyers(1, prefix="plain")
    cid = await h.campaign(recall(clock))
    await h.run(cid)
    gold, plain = texts(h, "gold0")[0], texts(h, "plain0")[0]
    for text in (gold, plain):
        assert "老客回归周" not in text and "内部" not in text
        assert "“" not in text and "回复「退订」" in text
    assert "本次活动专享" not in gold and "【金卡会员】" in gold and "· 优先发货" in gold
    # Interests only when the buyer told us some, and no claim that they were restocked.
    assert "您关注的女装" in gold and "已上新" not in gold
    assert "您关注的" not in plain


async def test_recall_shows_its_buyer_facing_title(h, clock):
    await h.add_buyers(1, prefix="b")
    cid = await h.campaign(recall(clock, title="5·18 老客节"))
    await h.run(cid)
    assert texts(h, "b0")[0].startswith("老朋友，好久不见！「5·18 老客节」进行中")


async def test_a_reminder_does_not_ask_a_buyer_who_reserved_to_reply_预约(h, clock):
    await h.add_buyers(2, prefix="fan")
    spec = {
        "kind": "livestream",
        "name": "周五直播",
        "title": "春季新款",
        "start_at": iso(clock, days=2),
        "offsets_s": [3600],
    }
    cid = await h.campaign(spec)
    await h.run(cid)  # the announcement
    assert all("回复「预约」" in texts(h, f)[0] for f in ("fan0", "fan1"))
    async with h.sm() as session, session.begin():
        fan0 = await session.scalar(select(Buyer.id).where(Buyer.openid == "fan0"))
        await add_rsvp(session, cid, fan0, clock.now())
    for fan in ("fan0", "fan1"):
        h.fake.open_window(fan, clock.now() + timedelta(days=3))
    async with h.sm() as session, session.begin():
        await session.execute(
            Buyer.__table__.update().values(last_interaction_at=clock.now() + timedelta(days=2))
        )
    clock.advance(days=2, hours=-1)
    await h.run(cid)
    reserved, other = texts(h, "fan0")[1], texts(h, "fan1")[1]
    assert "1小时后开播" in reserved and "预约" not in reserved.replace("您已预约", "")
    assert "您已预约" in reserved
    assert "回复「预约」" in other
