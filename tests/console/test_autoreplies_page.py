"""自动回复 and 自定义菜单 without a browser: who may change what, forms refused with a reason
(never a 5xx), every save a version and an audit entry, and the menu published to WeChat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.models import InboundMessage
from console.audit import AuditEntry
from content.autoreply_store import AutoReplyHit, current_version, history
from content.menu import latest_menu
from laoke.app import create_app
from tests.console.conftest import ConsoleClient

RULE = {"name": "地址", "keywords": "地址\n在哪", "mode": "contains",
        "replies": "义乌五区\n---\n杭州四季青", "reply_mode": "random", "priority": "3",
        "hours": "", "enabled": "on"}  # fmt: skip


async def _post(console, path, headers, data):
    return await console.client.post(path, data=data, headers=headers, allow_redirects=False)


async def test_operator_reads_admin_edits_and_each_save_is_a_version(console):
    operator = await console.login_as("operator")
    admin = await console.login_as("admin")
    resp = await _post(console, "/admin/autoreplies/rules", operator, RULE)
    assert resp.status == 403
    resp = await _post(console, "/admin/autoreplies/rules", admin, RULE)
    assert resp.status == 303
    page = await (await console.client.get("/admin/autoreplies", headers=operator)).text()
    assert "地址" in page and "保存规则" not in page  # read-only for operators
    await _post(console, "/admin/autoreplies/rules/toggle", admin, {"rule_id": "r1"})
    await _post(console, "/admin/autoreplies/rollback", admin, {"version": "1"})
    async with console.sessionmaker() as session:
        versions = await history(session)
        assert [v.id for v in versions] == [3, 2, 1]
        assert versions[0].ruleset.rules[0].enabled  # rolled back to v1: enabled again
        assert versions[0].ruleset.rules[0].replies == ["义乌五区", "杭州四季青"]
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action.like("autoreply.%"))
        )
    assert audited == 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mode": "regex", "keywords": "("}, "正则"),
        ({"keywords": ""}, "关键词至少需要一个"),
        ({"priority": "很高"}, "优先级"),
        ({"hours": "9点到6点"}, "09:00-18:00"),
        ({"replies": "{{ 9**9**9**9 }}"}, "无法生成"),
        ({"name": ""}, "规则名称不能为空"),
        ({"priority": "101"}, "优先级超出范围"),
    ],
)
async def test_bad_rules_are_refused_on_the_form(console, change, reason):
    admin = await console.login_as("admin")
    resp = await _post(console, "/admin/autoreplies/rules", admin, {**RULE, **change})
    assert resp.status == 400 and reason in await resp.text()


async def test_try_it_says_the_builtin_wins_and_shadowed_keywords_are_flagged(console):
    admin = await console.login_as("admin")
    await _post(console, "/admin/autoreplies/rules", admin, {**RULE, "name": "会员",
                "keywords": "会员", "mode": "exact"})  # fmt: skip
    page = await console.client.get("/admin/autoreplies?q=我是什么会员", headers=admin)
    text = await page.text()
    assert "内置会员卡" in text and "先于关键词规则" in text
    assert "「会员」会先由内置会员卡回答" in text


async def test_unknown_rule_and_version_are_400_not_500(console):
    admin = await console.login_as("admin")
    for path, data in [("/admin/autoreplies/rules/delete", {"rule_id": "r99"}),
                       ("/admin/autoreplies/rollback", {"version": "x"}),
                       ("/admin/autoreplies/rollback", {"version": "77"})]:  # fmt: skip
        assert (await _post(console, path, admin, data)).status == 400


@pytest.fixture
async def menu_console(aiohttp_client, make_config, clock, fake_wechat):
    app = create_app(make_config(wechat=fake_wechat.wechat_config()), clock=clock)
    return ConsoleClient(await aiohttp_client(app), app, clock), fake_wechat


MENU = {"b0_name": "名片", "b0_type": "click", "b0_key": "CARD",
        "b1_name": "联系", "b1_type": "sub", "b1_s0_name": "联系客服", "b1_s0_type": "click",
        "b1_s0_key": "HANDOFF", "b1_s1_name": "官网", "b1_s1_type": "view",
        "b1_s1_url": "https://example.com/shop"}  # fmt: skip


async def test_menu_is_validated_published_and_pulled_back(menu_console):
    console, fake = menu_console
    admin = await console.login_as("admin")
    too_long = {**MENU, "b0_name": "交换名片交换名片"}  # 24 bytes > 16
    resp = await _post(console, "/admin/menu", admin, {**too_long, "action": "publish"})
    assert resp.status == 400 and "最多 16 字节" in await resp.text()
    bad_url = {**MENU, "b1_s1_url": "javascript:alert(1)"}
    resp = await _post(console, "/admin/menu", admin, {**bad_url, "action": "publish"})
    assert resp.status == 400 and "http" in await resp.text()
    assert fake.state.menu is None
    resp = await _post(console, "/admin/menu", admin, {**MENU, "action": "publish"})
    assert resp.status == 303
    assert fake.state.menu[1]["sub_button"][0] == {
        "name": "联系客服", "type": "click", "key": "HANDOFF"}  # fmt: skip
    fake.state.menu = [{"name": "公众平台", "type": "view", "url": "https://mp.example.com"}]
    assert (await _post(console, "/admin/menu/pull", admin, {})).status == 303
    async with console.sessionmaker() as session:
        pulled = await latest_menu(session)
    assert pulled.status == "pulled" and pulled.buttons[0]["name"] == "公众平台"


async def test_the_menu_editor_shows_each_buttons_clicks_of_the_last_seven_days(console):
    now = console.clock.now()
    async with console.sessionmaker() as session, session.begin():
        for n, (key, days_ago) in enumerate((("CARD", 1), ("CARD", 6), ("CARD", 9), ("LIVE", 2))):
            session.add(
                InboundMessage(
                    dedup_key=f"click{n}", openid="oMenu", msg_type="event", event="click",
                    content=key, received_at=now - timedelta(days=days_ago), status="done",
                )
            )  # fmt: skip
    operator = await console.login_as("operator")
    html = await (await console.client.get("/admin/menu", headers=operator)).text()
    # The suggested menu: 名片 (CARD) | 会员 (MEMBERSHIP) | 直播·联系我们 (LIVE, HANDOFF).
    assert "7日点击 2" in html  # CARD: the click of 9 days ago is not counted
    assert "直播预约 <small" in html and "7日点击 1" in html
    assert html.count("7日点击 0") == 2  # 会员 and 联系客服


async def test_menu_moves_reorder_without_saving(console):
    admin = await console.login_as("admin")
    resp = await _post(console, "/admin/menu", admin, {**MENU, "action": "move:b1:up"})
    text = await resp.text()
    assert resp.status == 200 and text.index('value="联系"') < text.index('value="名片"')


async def test_a_rule_hit_is_counted_for_its_row(console):
    admin = await console.login_as("admin")
    await _post(console, "/admin/autoreplies/rules", admin, RULE)
    async with console.sessionmaker() as session, session.begin():
        session.add(AutoReplyHit(rule_id="r1", at=console.clock.now()))
    page = await (await console.client.get("/admin/autoreplies", headers=admin)).text()
    async with console.sessionmaker() as session:
        assert (await current_version(session)).id == 1
    assert '<td class="num">1</td>' in page


async def test_the_editor_refuses_a_backreference_and_the_old_rules_stay_live(console):
    admin = await console.login_as("admin")
    assert (await _post(console, "/admin/autoreplies/rules", admin, RULE)).status == 303
    bad = {**RULE, "name": "重复字", "mode": "regex", "keywords": r"(a)\1"}
    resp = await _post(console, "/admin/autoreplies/rules", admin, bad)
    assert resp.status == 400
    assert "正则不支持反向引用或环视，请改写" in await resp.text()
    async with console.sessionmaker() as session:
        current = await current_version(session)
    assert current.id == 1 and [r.name for r in current.ruleset.rules] == ["地址"]


async def test_a_stored_rule_with_a_refused_pattern_is_shown_stopped_with_its_reason(console):
    from content.autoreply_store import AutoReplyVersion

    admin = await console.login_as("admin")
    stored = {"rules": [{"id": "r1", "name": "叠字", "replies": ["好"],
                         "keywords": [{"text": r"(好)\1", "mode": "regex"}]}]}  # fmt: skip
    async with console.sessionmaker() as session, session.begin():
        session.add(AutoReplyVersion(data=stored, created_at=console.clock.now()))
    page = await (await console.client.get("/admin/autoreplies", headers=admin)).text()
    assert "叠字" in page and "正则不支持反向引用或环视，请改写" in page
    # Other rules can still be saved beside it.
    assert (await _post(console, "/admin/autoreplies/rules", admin, RULE)).status == 303
