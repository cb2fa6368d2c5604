"""话术模板 over HTTP: read-only for operators, draft / publish / refuse / rollback / reset for
admins (audited), the live check and preview, and hostile templates bounded while the server
keeps answering."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from bot.appkeys import SERVICES
from console.models import AuditEntry

WELCOME = "/admin/templates/welcome"


async def _post(console, headers, path, **data):
    return await console.client.post(path, headers=headers, data=data, allow_redirects=False)


async def _htmx(console, headers, path, **data):
    """As htmx posts it: the answer is the partial."""
    return await _post(console, headers | {"HX-Request": "true"}, path, **data)


async def _welcome_text(console) -> str:
    renderer = console.app[SERVICES].renderer
    return renderer.render("welcome", buyer=None)


async def _eventually(check, seconds=2.0):
    deadline = time.monotonic() + seconds
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("not within the time")
        await asyncio.sleep(0.05)


async def test_without_htmx_check_and_preview_answer_with_the_whole_page(console):
    admin = await console.login_as("admin")
    resp = await _post(console, admin, WELCOME + "/check", source="a\n{% if %}")
    html = await resp.text()
    assert resp.status == 422 and "<h1>话术模板</h1>" in html and "第 2 行" in html
    assert "{% if %}" in html  # the text is kept in the editor
    resp = await _post(console, admin, WELCOME + "/preview", source="你好 {{ buyer.display_name }}")
    assert "预览：你好 王姐" in await resp.text()


async def test_operator_reads_without_edit_controls(console):
    operator = await console.login_as("operator")
    html = await (await console.client.get(WELCOME, headers=operator)).text()
    assert "欢迎关注" in html and "保存并发布" not in html and "readonly" in html
    resp = await _post(console, operator, WELCOME + "/save", source="x")
    assert resp.status == 403


async def test_publish_reaches_the_renderer_and_is_audited(console):
    admin = await console.login_as("admin")
    resp = await _post(console, admin, WELCOME + "/save", source="新版欢迎语 v1", publish="1")
    assert resp.status == 303
    await _eventually(lambda: _is(console, "新版欢迎语 v1"))
    html = await (await console.client.get("/admin/templates?modified=1", headers=admin)).text()
    assert "已修改" in html and "全部为默认话术" not in html
    await _post(console, admin, WELCOME + "/save", source="第二版", publish="1")
    await _eventually(lambda: _is(console, "第二版"))
    resp = await _post(console, admin, WELCOME + "/rollback", version="1")
    assert resp.status == 303
    await _eventually(lambda: _is(console, "新版欢迎语 v1"))
    history = await (await console.client.get(WELCOME + "?tab=history&v=2", headers=admin)).text()
    assert "v3 · admin-user" in history and "回滚" in history and "与默认话术" in history
    await _post(console, admin, WELCOME + "/reset")
    await _eventually(lambda: _is_default(console))
    html = await (await console.client.get("/admin/templates?modified=1", headers=admin)).text()
    assert "全部为默认话术" in html
    async with console.sessionmaker() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert [a for a in actions if a.startswith("template.")] == [
        "template.save", "template.publish", "template.save", "template.publish",
        "template.rollback", "template.reset",
    ]  # fmt: skip


async def _is(console, text):
    return await _welcome_text(console) == text


async def _is_default(console):
    return (await _welcome_text(console)).startswith("欢迎关注")


async def test_a_broken_version_is_refused_with_line_and_kept_in_the_editor(console):
    admin = await console.login_as("admin")
    source = "您好\n{{ buyer.company[0] }}"
    resp = await _post(console, admin, WELCOME + "/save", source=source, publish="1")
    html = await resp.text()
    assert resp.status == 422 and "不能发布" in html and "第 2 行" in html
    assert "buyer.company[0]" in html  # the text is not lost
    assert await _is_default(console)


async def test_check_and_preview_answer_with_line_and_bubble(console):
    admin = await console.login_as("admin")
    bad = await (await _htmx(console, admin, WELCOME + "/check", source="a\n{% if %}")).text()
    assert "第 2 行" in bad and "<html" not in bad
    ok = await (await _htmx(console, admin, WELCOME + "/check", source="你好")).text()
    assert "语法正确" in ok
    long = await (await _htmx(console, admin, WELCOME + "/check", source="长" * 700)).text()
    assert "600" in long
    prev = await _htmx(console, admin, "/admin/templates/help/preview",
                       source="{{ buyer.company }}", sample="none-111")  # fmt: skip
    assert "福田国际商贸城" in await prev.text()  # the long company name sample


PAYLOADS = [
    "{{ buyer.__class__.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(buyer) }}",
    "{{ '%s' % buyer.__class__ }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 9**(9**9) }}",
    "{{ 'a' * 1000000000 }}",
    "{% for a in range(9999) %}{% for b in range(9999) %}x{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{{ ('x' * 90000) | replace('x', 'yyyyyyyyyy') }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_injection_payloads_are_refused_or_bounded(console, payload):
    admin = await console.login_as("admin")

    async def check():
        return await _htmx(console, admin, WELCOME + "/check", source=payload)

    started = time.monotonic()
    task = asyncio.create_task(check())
    await asyncio.sleep(0.05)
    other = time.monotonic()
    page = await console.client.get("/admin/templates/help", headers=admin)
    assert page.status == 200 and time.monotonic() - other < 1.5
    resp = await task
    body = await resp.text()
    assert resp.status == 200 and "语法正确" not in body and 'class="error"' in body
    assert time.monotonic() - started < 8
    publish = await _post(console, admin, WELCOME + "/save", source=payload, publish="1")
    assert publish.status == 422
    assert await _is_default(console)


async def test_template_messages_are_edited_validated_and_previewed(console):
    operator = await console.login_as("operator")
    html = await (await console.client.get("/admin/template-messages", headers=operator)).text()
    assert "会员等级变更" in html and "保存会员等级变更模板消息" not in html
    admin = await console.login_as("admin")
    bad = await _post(console, admin, "/admin/template-messages", purpose="tier_change",
                      template_id="no spaces allowed", key_0="thing1", value_0="x")  # fmt: skip
    assert bad.status == 422 and "模板 ID" in await bad.text()
    for fields, error in [
        ({"key_0": "first", "value_0": "{notice}"}, "字段 first 已被微信取消"),
        ({"key_0": "keyword1", "value_0": "{tier_name}"}, "字段 keyword1 已被微信取消"),
        (
            {"key_0": "thing1", "value_0": "{tier_name} 会员等级已生效，感谢您一直以来的支持"},
            "字段 thing1（事物）最多 20 个字，按示例填入后有 23 个字",
        ),
        ({"key_0": "phrase2", "value_0": "已升级为金卡"}, "字段 phrase2（短语）最多 5 个字"),
        ({"key_0": "thing1", "value_0": "第一行\n第二行"}, "字段 thing1 不能换行"),
        ({"key_0": "", "value_0": "{date}"}, "第 1 行缺少字段名"),
    ]:
        resp = await _post(console, admin, "/admin/template-messages", purpose="tier_change",
                           template_id="TPL_1", **fields)  # fmt: skip
        assert resp.status == 422 and error in await resp.text(), error
    marketing = await _post(console, admin, "/admin/template-messages", purpose="recall",
                            template_id="TPL_1", key_0="thing1", value_0="5·18 老客专场")  # fmt: skip
    assert marketing.status == 422 and "营销活动不能用模板消息" in await marketing.text()
    good = await _post(console, admin, "/admin/template-messages", purpose="tier_change",
                       template_id="TPL_1", key_0="thing1", value_0="{tier_name}",
                       key_1="time2", value_1="{date}")  # fmt: skip
    assert good.status == 303
    assert console.app[SERVICES].template_messages.template_id("tier_change") == "TPL_1"
    html = await (await console.client.get("/admin/template-messages", headers=admin)).text()
    assert "<dt>thing1（事物）</dt><dd>金卡会员</dd>" in html  # filled with the sample values
    assert "<dt>time2（时间）</dt><dd>2026-05-18</dd>" in html
    async with console.sessionmaker() as s:
        actions = list(await s.scalars(select(AuditEntry.action)))
    assert "template_message.save" in actions


async def test_odd_input_gets_a_chinese_answer_not_an_error(console):
    admin = await console.login_as("admin")
    for path, data in [
        (WELCOME + "/rollback", {"version": "²"}),
        (WELCOME + "/rollback", {"version": "99"}),
        (WELCOME + "/publish", {"version": ""}),
        ("/admin/templates/card_view/save", {"source": "x", "publish": "1"}),
        ("/admin/templates/card_view/reset", {}),  # a partial: used inside other templates only
        (WELCOME + "/save", {"source": "x" * 6000}),
    ]:
        resp = await _post(console, admin, path, **data)
        assert resp.status == 422, (path, data)
        assert 'role="alert"' in await resp.text()
    assert (await console.client.get(WELCOME + "?v=²&tab=history", headers=admin)).status == 200
    assert (await console.client.get("/admin/templates/nope", headers=admin)).status == 404


async def test_the_accounts_templates_are_read_from_wechat_with_their_typed_keys(
    aiohttp_client, make_config, clock, fake_wechat
):
    from laoke.app import create_app
    from tests.console.conftest import ConsoleClient

    app = create_app(make_config(wechat=fake_wechat.wechat_config()), clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    operator = await console.login_as("operator")
    url = "/admin/template-messages?fetch=1"
    html = await (await console.client.get(url, headers=operator)).text()
    assert "会员等级变更通知" in html and "<code>DEMO_TIER_CHANGE</code>" in html
    assert "<code>thing1</code>（事物）、<code>time2</code>（时间）" in html
    fake_wechat.inject(-1, count=5)  # WeChat busy: a Chinese message, not an error page
    resp = await console.client.get(url, headers=operator)
    assert resp.status == 200 and "读取公众号的模板失败（错误码 -1）" in await resp.text()
