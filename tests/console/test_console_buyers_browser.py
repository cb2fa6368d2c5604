"""The buyer book in headless Chromium, as staff use it: search → open the buyer → add a tag →
the tag's segment (field ``tags``) counts the buyer in the API preview; a viewer sees no edit
controls. Takes the operator's-guide screenshots docs/screenshots/buyers.png and buyer.png."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import pytest
from live_server import SHOTS, LiveApp
from playwright.sync_api import expect
from sqlalchemy import select

from bot.clock import Clock
from bot.models import Buyer, InboundMessage, OutboundMessage
from laoke.app import create_app
from tests.console.test_console_browser import PASSWORD, sign_in
from tests.tiers_fixture import GOLD, SILVER

pytestmark = pytest.mark.browser
SERVICE_TOKEN = "service-token-1"
PEOPLE = [
    ("张建国", "广州锦绣服饰", "gold", "广东省", "广州市", 23, 48_600.0, 2),
    ("张丽", "杭州丽人女装", "silver", "浙江省", "杭州市", 6, 8_200.0, 30),
    ("王总", "义乌小商品行", None, "浙江省", "金华市", 1, 980.0, 200),
    ("李姐", None, None, "江苏省", "苏州市", 0, 0.0, 5),
    ("陈老板", "深圳童趣童装", "gold", "广东省", "深圳市", 41, 96_000.0, 20),
    ("赵敏", "汕头内衣批发", "silver", "广东省", "汕头市", 9, 7_300.0, 400),
]


@pytest.fixture
def live_book(make_config):
    live = LiveApp(create_app(make_config(api={"token": SERVICE_TOKEN},
                                              tiers={"levels": [SILVER, GOLD]})))  # fmt: skip
    live.start()
    now = Clock().now()

    async def seed(session):
        for i, (name, company, tier, province, city, orders, spend, hours) in enumerate(PEOPLE):
            buyer = Buyer(
                openid=f"o-demo-{i}", first_seen_at=now - timedelta(days=90),
                subscribed_at=now - timedelta(days=90 - i), display_name=name, company=company,
                tier_key=tier, province=province, city=city, orders_total=orders,
                orders_12m=orders, spend_12m=spend, phone=f"1380013{i:04d}",
                last_interaction_at=now - timedelta(hours=hours), business_type="wholesale",
                tags=["展会"] if i % 2 else [],
            )  # fmt: skip
            session.add(buyer)
        session.add(InboundMessage(dedup_key="d1", openid="o-demo-0", msg_type="text",
                                   content="新款连衣裙什么时候到货？", status="done",
                                   received_at=now - timedelta(hours=2)))  # fmt: skip
        session.add(OutboundMessage(openid="o-demo-0", channel="custom", purpose="campaign",
                                    content="5·18 直播今晚 8 点开播，金卡会员专享 9 折",
                                    created_at=now - timedelta(days=3), result="ok"))  # fmt: skip

    live.query(seed)
    live.add_user("zhang", "operator")
    live.add_user("kan", "viewer")
    yield live
    live.stop()


def _preview(live, tag: str) -> dict:
    body = json.dumps({"spec": {"field": "tags", "op": "contains", "value": tag}, "sample": 10})
    request = urllib.request.Request(
        live.url + "/api/segments/preview", method="POST", data=body.encode(),
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def test_search_open_tag_and_the_segment_counts_the_buyer(browser_page, live_book):
    page, live = browser_page, live_book
    assert _preview(live, "直播常客")["count"] == 0
    sign_in(page, live, "zhang", PASSWORD, path="/admin/buyers")
    page.get_by_label("搜索", exact=True).fill("张")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/admin/buyers?q=*")
    expect(page.locator("#book .count")).to_contain_text("共 2 条")  # counted after the page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live.url + "/admin/buyers")
    page.screenshot(path=str(SHOTS / "buyers.png"))
    page.goto(live.url + "/admin/buyers?q=张")
    page.get_by_role("link", name="张建国").click()
    page.get_by_label("新标签").fill("直播常客")
    page.get_by_role("button", name="添加标签").click()
    toast = page.get_by_role("status")
    assert "已添加标签「直播常客」" in toast.inner_text()
    assert toast.get_by_role("button", name="撤销").is_visible()
    page.screenshot(path=str(SHOTS / "buyer.png"))

    preview = _preview(live, "直播常客")
    assert preview["count"] == 1
    assert [b["name"] for b in preview["sample"]] == ["张建国"]

    async def buyer_tags(session):
        return await session.scalar(select(Buyer.tags).where(Buyer.openid == "o-demo-0"))

    assert live.query(buyer_tags) == ["直播常客"]
    toast.get_by_role("button", name="撤销").click()  # undo takes it off again
    assert _preview(live, "直播常客")["count"] == 0


def test_a_viewer_sees_no_edit_controls(browser_page, live_book):
    page, live = browser_page, live_book
    sign_in(page, live, "kan", PASSWORD, path="/admin/buyers")
    assert page.get_by_role("link", name="陈老板").is_visible()
    assert "138****0004" in page.inner_text("#book")
    assert page.get_by_role("button", name="存为分群").count() == 0
    assert page.get_by_role("button", name="移除标签").count() == 0
    page.get_by_role("link", name="陈老板").click()
    assert page.get_by_role("heading", name="陈老板 · 深圳童趣童装").is_visible()
    for control in ("添加标签", "添加备注", "删除资料"):
        assert page.get_by_role("button", name=control).count() == 0
    assert page.locator("form[action$='/card']").count() == 0
    assert page.get_by_role("link", name="发消息").count() == 0
