"""营销 → 活动 in headless Chromium, as an operator runs a livestream push: create it, look at
the buyer's-eye preview, bind their own WeChat with the code (sent as a buyer message through
the real webhook), test-send a step to themselves, schedule after the summary, pause, resume,
and read the report. Takes the operator's guide screenshots."""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from live_server import PASSWORD, SHOTS, LiveApp
from sqlalchemy import select
from tiers_fixture import GOLD, SILVER

from bot.clock import Clock
from bot.models import Buyer
from console.models import AuditEntry
from demo.simulator.callback import CallbackSigner
from demo.simulator.fake_wechat import FakeWeChatHandle, create_fake_wechat
from laoke.app import create_app
from scheduler.campaigns import create_campaign, list_steps
from scheduler.models import SENT, SKIPPED, Campaign, Delivery

pytestmark = pytest.mark.browser


@pytest.fixture
def live_pair(make_config):
    """The fake WeChat API and the app pointed at it, each on a real port."""
    fake_app = create_fake_wechat(open_windows=True)
    fake = LiveApp(fake_app)
    fake.start()
    handle = FakeWeChatHandle(fake_app, fake.url)
    config = make_config(wechat=handle.wechat_config(), tiers={"levels": [SILVER, GOLD]})
    live = LiveApp(create_app(config))
    live.start()
    yield live, handle, config
    live.stop()
    fake.stop()


def seed_buyers(live) -> None:
    async def add(session):
        now = Clock().now()
        for i, (name, tier, days) in enumerate([("王老板", "gold", 0), ("李姐", None, 0),
                                               ("陈总", "gold", 20), ("赵姐", None, 40)]):  # fmt: skip
            session.add(Buyer(openid=f"oDemo{i}", display_name=name, tier_key=tier,
                              first_seen_at=now - timedelta(days=90), subscribed=True,
                              last_interaction_at=now - timedelta(days=days, minutes=5),
                              tags=[], channels=[], interests=["女装"]))  # fmt: skip

    live.query(add)


def webhook_text(live, config, openid: str, text: str) -> str:
    signer = CallbackSigner.from_config(config.wechat)
    params, body = signer.text(openid, text)
    url = f"{live.url}{config.server.webhook_path}?{urlencode(params)}"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as resp:
        return resp.read().decode()


def test_create_preview_test_send_schedule_pause_resume_report(browser_page, live_pair):
    page, (live, fake, config) = browser_page, live_pair
    live.add_user("amy", "operator")
    seed_buyers(live)
    page.goto(live.url + "/admin/campaigns")
    page.get_by_label("用户名").fill("amy")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    assert page.get_by_text("还没有活动").is_visible()
    page.get_by_role("link", name="新品直播预告").click()
    # The starter is prefilled; a mistake is shown on its field and nothing is lost.
    page.get_by_label("活动名称（内部使用，买家看不到）").fill("")
    page.locator("form#campaign-form button[type=submit]").last.click()
    assert page.locator("#err-name").inner_text() == "不能为空"
    page.get_by_label("活动名称（内部使用，买家看不到）").fill("6月新品直播")
    page.get_by_label("直播链接").fill("https://live.example.com/618")
    page.locator("form#campaign-form button[type=submit]").last.click()
    assert "/edit" in page.url
    # The preview: a gold buyer and one without a tier, in and out of the window.
    preview = page.locator("#preview")
    preview.get_by_text("无等级 · 窗口外").wait_for()
    assert preview.get_by_text("群发消息（所有人同一条").first.is_visible()  # never a template
    assert "金卡会员 · 窗口内 · 王老板" in preview.inner_text()
    for step in ("公告", "提前1天", "提前1小时", "开播"):
        assert preview.get_by_role("link", name=step).is_visible()
    preview.get_by_role("link", name="开播").click()
    page.wait_for_function("() => document.querySelector('#preview').innerText.includes('正在直播') "
                           "|| document.querySelector('#preview [aria-current]')")  # fmt: skip
    # Autosave: a change is saved without pressing 保存.
    page.get_by_label("直播标题（买家可见）").fill("夏季新品直播")
    page.get_by_text("已自动保存").wait_for()
    assert "夏季新品直播" in page.locator("#preview").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "campaign-editor.png"))
    # Bind: the code goes to the Official Account as a message from the operator's WeChat.
    page.get_by_role("button", name="绑定我的微信").click()
    code = page.locator(".bindcode .secret").inner_text().strip()
    assert "绑定成功" in webhook_text(live, config, "oStaffAmy", code)
    page.get_by_text("已绑定您的微信").wait_for(timeout=10_000)
    page.get_by_label("测试发送的步骤").select_option(index=3)
    page.get_by_role("button", name="测试发送").click()
    page.get_by_text("已发送到您的微信：开播").wait_for()
    assert "夏季新品直播" in str(fake.messages("oStaffAmy")[-1])
    # Schedule after the summary.
    page.get_by_role("button", name="排期").first.click()
    dialog = page.locator("#schedule-dialog")
    dialog.get_by_text("发给 5 位买家").wait_for()  # the operator wrote in too
    # The two dormant buyers are reached by mass send, not by a template message.
    assert dialog.locator("tr", has_text="群发").locator(".num").inner_text() == "2"
    dialog.get_by_role("button", name="排期").click()
    page.wait_for_url(re.compile(r"/admin/campaigns/\d+$"))
    page.wait_for_load_state("load")  # the dialogs' script runs after ECharts loads
    assert page.locator(".status").first.inner_text() == "已排期"
    page.get_by_role("button", name="暂停").click()
    page.get_by_role("button", name="暂停发送").click()
    page.wait_for_load_state("load")
    assert page.locator(".status").first.inner_text() == "已暂停"
    page.get_by_role("button", name="继续").click()
    page.get_by_role("button", name="继续发送").click()
    page.wait_for_load_state("load")
    assert page.locator(".status").first.inner_text() == "已排期"
    assert page.locator("#progress[hx-trigger]").count() == 1  # refreshes itself while live
    assert page.get_by_role("heading", name="转化").is_visible()
    # A report with results, for the guide.
    report_id = seed_finished_campaign(live)
    page.emulate_media(reduced_motion="reduce")  # the chart drawn at once, for the screenshot
    page.goto(f"{live.url}/admin/campaigns/{report_id}")
    page.locator("#funnel-chart canvas").wait_for()
    assert page.locator("#progress[hx-trigger]").count() == 0  # done: no polling
    page.screenshot(path=str(SHOTS / "campaign-report.png"), full_page=False)
    page.goto(live.url + "/admin/campaigns")
    assert page.get_by_role("link", name="6月新品直播").is_visible()
    page.screenshot(path=str(SHOTS / "campaigns.png"))

    async def audited(session):
        return list(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("campaign.%"))))  # fmt: skip

    actions = live.query(audited)
    for action in ("campaign.create", "campaign.edit", "campaign.test_send", "campaign.schedule",
                   "campaign.pause", "campaign.resume"):  # fmt: skip
        assert action in actions


def seed_finished_campaign(live) -> int:
    async def seed(session):
        from bot.clock import Clock

        clock = Clock()
        now = clock.now()
        c = await create_campaign(session, {"kind": "recall", "name": "5·18 粉丝召回",
            "title": "5·18 老客回馈", "all_day": True,
            "window_start": (now + timedelta(minutes=1)).isoformat(),
            "window_end": (now + timedelta(days=1)).isoformat()}, clock)  # fmt: skip
        step = (await list_steps(session, c.id))[0]
        buyers = list(await session.scalars(select(Buyer).order_by(Buyer.id)))
        for b, status in zip(buyers, [SENT, SENT, SENT, SKIPPED], strict=False):
            session.add(Delivery(step_id=step.id, campaign_id=c.id, buyer_id=b.id, openid=b.openid,
                                 status=status, channel="custom" if status == SENT else None,
                                 reason="outside_window" if status == SKIPPED else None,
                                 sent_at=now if status == SENT else None, created_at=now))  # fmt: skip
        step.status, step.recipients = "done", 4
        (await session.get(Campaign, c.id)).status = "done"
        return c.id

    return live.query(seed)
