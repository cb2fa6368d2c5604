"""分群 and 活动日历 in headless Chromium: build a segment by picking fields and values, watch
the counts follow the edits, save it and find it in the list; then the calendar. The
screenshots for the operator's guide (docs/screenshots/segments.png, calendar.png) are taken
here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from live_server import SHOTS, LiveApp
from tiers_fixture import GOLD as GOLD_TIER
from tiers_fixture import SILVER

from bot.clock import Clock
from bot.models import Buyer
from laoke.app import create_app
from scheduler.models import SCHEDULED, Campaign, CampaignStep
from scheduler.saved_segments import Segment

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"
INTERESTS = ["女装", "男装", "童装", "鞋靴"]
NAMES = ["王姐", "李老板", "陈总", "张小姐", "刘哥", "周店长", "吴姐", "郑老板", "孙总", "黄小姐"]


async def seed(session) -> None:
    now = Clock().now()
    for i in range(40):
        session.add(
            Buyer(
                openid=f"oDemo{i:03d}", display_name=NAMES[i % 10] + str(i // 10 or ""),
                company=f"{NAMES[i % 10][0]}记服饰", tier_key=["gold", "silver", None, None][i % 4],
                interests=[INTERESTS[i % 4], INTERESTS[(i + 1) % 4]] if i % 5 else [INTERESTS[0]],
                channels=[], tags=[], subscribed=i % 7 != 0, opted_out=i % 9 == 0,
                first_seen_at=now - timedelta(days=200), subscribed_at=now - timedelta(days=200),
                last_interaction_at=now - timedelta(hours=5 * i * i), province="广东省",
                orders_total=i % 3,
            )
        )  # fmt: skip
    session.add(
        Segment(name="沉睡金卡", description="", spec={"all": [
            {"field": "tier", "op": "eq", "value": "gold"},
            {"field": "days_since_interaction", "op": "gte", "value": 30}]},
            created_at=now, updated_at=now)
    )  # fmt: skip
    day = (now + timedelta(days=2)).replace(hour=2, minute=0, second=0, microsecond=0)
    for name, segment_name, hour in [("新品直播", "沉睡金卡", 0), ("秋装上新", None, 8)]:
        campaign = Campaign(name=name, kind="broadcast", status=SCHEDULED, segment_name=segment_name,
                            params={}, created_at=now, updated_at=now)  # fmt: skip
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignStep(
                campaign_id=campaign.id, kind="broadcast", due_at=day + timedelta(hours=hour)
            )
        )


def settled(page) -> None:
    """Wait until htmx has swapped and wired up new content (a select changed before htmx
    processes it would not re-render the builder)."""
    page.wait_for_function(
        # A function, not a bare expression: Playwright evals a bare one in the page, which
        # the console's Content-Security-Policy refuses.
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


@pytest.fixture
def live(make_config):
    app = create_app(make_config(tiers={"levels": [SILVER, GOLD_TIER]}))
    live = LiveApp(app)
    live.start()
    live.query(seed)
    live.add_user("amy", "operator")
    yield live
    live.stop()


def test_build_a_segment_watch_the_counts_save_it_then_the_calendar(browser_page, live):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(live.url + "/admin/segments")
    page.get_by_label("用户名").fill("amy")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="分群", exact=True)).to_be_visible()
    expect(page.locator("#count-matching")).to_have_text("40")  # an empty builder: everyone

    settled(page)
    page.get_by_label("字段").select_option(label="会员等级")  # the builder offers its conditions
    expect(page.get_by_label("条件")).to_have_value("eq")
    settled(page)
    page.get_by_label("值", exact=True).fill("gold")
    expect(page.locator("#count-matching")).to_have_text("10")
    expect(page.locator("#seg-summary")).to_have_text("金卡会员")

    with page.expect_response("**/admin/segments/builder"):
        page.get_by_role("button", name="添加条件").click()
    settled(page)
    page.get_by_label("字段").nth(1).select_option(label="兴趣品类")
    expect(page.get_by_label("条件").nth(1)).to_have_value("contains")
    settled(page)
    page.get_by_label("值", exact=True).nth(1).fill("男士")  # a synonym, echoed
    expect(page.locator("#count-matching")).to_have_text("8")
    expect(page.locator("#echo-g0-r1")).to_have_text("男士 → 男装")
    expect(page.locator("#seg-summary")).to_have_text("金卡会员，兴趣含男装")
    reachable = page.locator("#count-reachable").inner_text()
    assert int(reachable) < 8  # unsubscribed and opted-out buyers are not reachable
    assert page.locator(".seg-sample a").count() == 5

    page.get_by_label("值", exact=True).first.fill("golden")  # a wrong value: said on its row
    expect(page.locator("#err-g0-r0")).to_contain_text("unknown tier 'golden'")
    page.get_by_label("值", exact=True).first.fill("gold")
    expect(page.locator("#count-matching")).to_have_text("8")

    page.get_by_label("名称").fill("金卡男装")
    page.get_by_role("button", name="保存分群").click()
    expect(page).to_have_url(live.url + "/admin/segments?name=%E9%87%91%E5%8D%A1%E7%94%B7%E8%A3%85")
    library = page.get_by_role("complementary", name="已保存的分群")
    expect(library.get_by_role("link", name="金卡男装")).to_be_visible()
    expect(library.locator(".seg-list li", has_text="沉睡金卡")).to_contain_text("被 1 个活动使用")
    expect(page.get_by_role("link", name="用此分群建活动")).to_have_attribute(
        "href", "/admin/campaigns/new?segment=%E9%87%91%E5%8D%A1%E7%94%B7%E8%A3%85"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "segments.png"))

    page.get_by_role("link", name="活动日历 →").click()
    expect(page.get_by_role("heading", name="活动日历")).to_be_visible()
    page.get_by_role("link", name="周", exact=True).click()
    step_day = (Clock().now() + timedelta(days=2)).date().isoformat()  # 10:00 in Beijing
    page.goto(page.url.split("?")[0] + f"?view=week&date={step_day}")
    expect(page.locator(".cal-step", has_text="新品直播")).to_contain_text("沉睡金卡")
    expect(page.locator(".cal-warn").first).to_contain_text("「新品直播」与「秋装上新」重叠 5 人")
    expect(page.locator("td.clash .cal-step")).to_have_count(2)
    page.screenshot(path=str(SHOTS / "calendar.png"))


def test_the_builder_works_without_javascript(browser, live):
    from playwright.sync_api import expect

    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(live.url + "/admin/segments?starter=广东老客")
        page.get_by_label("用户名").fill("amy")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("#seg-summary")).to_have_text("地区为广东，老客")
        expect(page.locator("#count-matching")).to_have_text("13")  # 2 orders: every third buyer
        page.get_by_role("button", name="添加条件").click()  # a full page comes back
        page.get_by_label("字段").nth(2).select_option(label="会员等级")
        page.get_by_role("button", name="更新人数").click()  # the operators follow the field
        expect(page.get_by_label("条件").nth(2)).to_have_value("eq")
        page.get_by_label("值", exact=True).nth(2).fill("silver")
        page.get_by_role("button", name="更新人数").click()
        expect(page.locator("#count-matching")).to_have_text("3")
        page.get_by_label("名称").fill("广东银卡老客")
        page.get_by_role("button", name="保存分群").click()
        expect(page.get_by_role("complementary", name="已保存的分群")).to_contain_text(
            "广东银卡老客"
        )
    finally:
        context.close()
