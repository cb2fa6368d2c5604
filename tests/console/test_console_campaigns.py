"""营销 → 活动 through the console's routes: the form's errors on their fields, roles, drafts
only editable while drafts, the moves and their confirmation, the report's polling, the
recipients export, binding an operator's WeChat through the real webhook and the test send."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import Buyer
from console.accounts import create_user
from console.auth import SESSION_COOKIE
from console.models import AuditEntry, ConsoleSession
from console.sessions import start_session
from scheduler.campaigns import create_campaign, get_campaign, list_steps
from scheduler.mass_sends import month_of
from scheduler.models import SENT, SKIPPED, Delivery, MassAllowance
from scheduler.staff_sends import bind_by_code, new_bind_code

PASSWORD = "correct-horse-9"


def local(clock, **delta) -> str:
    """A Beijing wall-clock time as the datetime-local picker posts it."""
    from zoneinfo import ZoneInfo

    return (
        (clock.now() + timedelta(**delta))
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .strftime("%Y-%m-%dT%H:%M")
    )


async def login(sessionmaker, clock, role: str, name: str) -> dict[str, str]:
    async with sessionmaker() as session, session.begin():
        user = await create_user(session, name, role, PASSWORD, clock.now())
        token = await start_session(session, user, clock.now(), "127.0.0.1")
        await session.flush()
        csrf = await session.scalar(
            select(ConsoleSession.csrf_token).where(ConsoleSession.user_id == user.id)
        )
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}


def livestream_form(clock, **extra) -> dict[str, str]:
    return {
        "kind": "livestream", "name": "春季直播", "title": "春夏新品",
        "start_at": local(clock, days=2), "duration_h": "2", "offset_day": "on",
        "offset_hour": "on", "message_mode": "default", **extra,
    }  # fmt: skip


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="err-{field}" role="alert"[^>]*>([^<]*)<', html)
    return found.group(1) if found else ""


async def test_form_errors_are_shown_on_their_fields_and_nothing_is_saved(console, clock):
    op = await console.login_as("operator")
    form = livestream_form(clock, name="", start_at="")
    resp = await console.client.post("/admin/campaigns/new", data=form, headers=op)
    html = await resp.text()
    assert resp.status == 400
    assert field_error(html, "name") == "不能为空"
    assert field_error(html, "start_at") == "必填"
    assert 'value="春夏新品"' in html  # what was typed is kept
    # The API's own rules: a start in the past, a recall window ending before it starts.
    past = livestream_form(clock, start_at=local(clock, hours=-1))
    html = await (await console.client.post("/admin/campaigns/new", data=past, headers=op)).text()
    assert field_error(html, "start_at") == "开播时间已经过去"
    recall = {"kind": "recall", "name": "召回", "window_start": local(clock, days=2),
              "window_end": local(clock, days=1), "dormant_days": "abc"}  # fmt: skip
    html = await (await console.client.post("/admin/campaigns/new", data=recall, headers=op)).text()
    assert field_error(html, "dormant_days") == "请填写整数"
    recall["dormant_days"] = "30"
    html = await (await console.client.post("/admin/campaigns/new", data=recall, headers=op)).text()
    assert field_error(html, "window_end") == "结束时间必须晚于开始时间"
    bad_source = livestream_form(clock, message_mode="source", message_source="{{ name ")
    html = await (
        await console.client.post("/admin/campaigns/new", data=bad_source, headers=op)
    ).text()
    assert field_error(html, "message_source").startswith("消息模板无法生成")
    async with console.sessionmaker() as session:
        assert (
            await session.scalar(select(AuditEntry).where(AuditEntry.action.like("campaign%")))
            is None
        )


async def test_viewer_reads_the_list_and_reports_but_cannot_create_or_move(console, clock):
    viewer = await console.login_as("viewer")
    resp = await console.client.get("/admin/campaigns", headers=viewer)
    html = await resp.text()
    assert resp.status == 200 and "还没有活动" in html and "新建直播预告" not in html
    resp = await console.client.post(
        "/admin/campaigns/new", data=livestream_form(clock), headers=viewer
    )
    assert resp.status == 403
    async with console.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货",
                                            "send_at": (clock.now() + timedelta(hours=1)
                                                        ).isoformat()}, clock)  # fmt: skip
    for path in (f"/admin/campaigns/{c.id}/schedule", f"/admin/campaigns/{c.id}/cancel"):
        assert (await console.client.post(path, data={}, headers=viewer)).status == 403
    resp = await console.client.get(f"/admin/campaigns/{c.id}", headers=viewer)
    assert resp.status == 200 and "停止活动" not in await resp.text()


async def test_empty_list_offers_the_518_recall_and_a_livestream_starter(console, clock):
    op = await console.login_as("operator")
    html = await (await console.client.get("/admin/campaigns", headers=op)).text()
    assert "5·18 粉丝召回（00:00–24:00 全天）" in html and "新品直播预告" in html
    html = await (await console.client.get("/admin/campaigns/new?starter=518", headers=op)).text()
    assert re.search(r'name="window_start" value="\d{4}-05-18T00:00"', html)
    assert re.search(r'name="window_end" value="\d{4}-05-19T00:00"', html)
    assert re.search(r'name="all_day" checked', html)


async def test_a_draft_autosaves_and_is_editable_only_while_a_draft(console, clock):
    op = await console.login_as("operator")
    resp = await console.client.post(
        "/admin/campaigns/new", data=livestream_form(clock), headers=op, allow_redirects=False
    )
    assert resp.status == 303
    cid = int(re.search(r"/admin/campaigns/(\d+)/edit", resp.headers["Location"]).group(1))
    edit = f"/admin/campaigns/{cid}/edit"
    html = await (await console.client.get(edit, headers=op)).text()
    assert 'value="春季直播"' in html and 'value="春夏新品"' in html
    changed = livestream_form(clock, title="夏季新品", offset_day="")
    changed.pop("offset_day")
    resp = await console.client.post(edit, data=changed, headers=op | {"HX-Request": "true"})
    assert resp.status == 200 and "已自动保存" in await resp.text()
    assert resp.headers["HX-Trigger"] == "campaign-saved"
    async with console.sessionmaker() as session:
        campaign = await get_campaign(session, cid)
        assert campaign.params["title"] == "夏季新品"
        assert [s.kind for s in await list_steps(session, cid)] == [
            "announce", "reminder", "start"]  # fmt: skip
    # An invalid change is not saved and says where.
    resp = await console.client.post(
        edit, data=changed | {"title": ""}, headers=op | {"HX-Request": "true"}
    )
    html = await resp.text()
    assert "未保存" in html and field_error(html, "title") == "不能为空"
    # Nobody can receive it yet (no buyers): scheduling needs the operator's confirmation.
    schedule = f"/admin/campaigns/{cid}/schedule"
    resp = await console.client.post(schedule, data={}, headers=op, allow_redirects=False)
    assert resp.status == 409 and "勾选确认后再排期" in await resp.text()
    resp = await console.client.post(
        schedule, data={"confirm_reach": "1"}, headers=op, allow_redirects=False
    )
    assert resp.status == 303
    resp = await console.client.post(edit, data=changed, headers=op, allow_redirects=False)
    assert resp.status == 409
    assert "不能再编辑" in await resp.text()
    async with console.sessionmaker() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["campaign.create", "campaign.edit", "campaign.schedule"]


async def test_duplicate_makes_a_new_draft_with_past_times_moved_ahead(console, clock):
    async with console.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货",
                                            "send_at": (clock.now() + timedelta(hours=1)
                                                        ).isoformat()}, clock)  # fmt: skip
    clock.advance(days=3)
    op = await console.login_as("operator")
    resp = await console.client.post(
        f"/admin/campaigns/{c.id}/duplicate", data={}, headers=op, allow_redirects=False
    )
    assert resp.status == 303
    copy_id = int(re.search(r"/admin/campaigns/(\d+)/edit", resp.headers["Location"]).group(1))
    async with console.sessionmaker() as session:
        copy = await get_campaign(session, copy_id)
        steps = await list_steps(session, copy_id)
    assert copy.status == "draft" and copy.name == "上新（副本）" and copy.params["text"] == "到货"
    assert steps[0].due_at > clock.now()


async def test_stopping_needs_the_typed_name_and_moves_are_audited(console, clock):
    op = await console.login_as("operator")
    async with console.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货",
                                            "send_at": (clock.now() + timedelta(hours=1)
                                                        ).isoformat()}, clock)  # fmt: skip
    base = f"/admin/campaigns/{c.id}"
    assert (await console.client.post(base + "/schedule", data={"confirm_reach": "1"}, headers=op,
                                      allow_redirects=False)).status == 303  # fmt: skip
    resp = await console.client.post(base + "/cancel", data={"confirm_name": "上"}, headers=op)
    assert resp.status == 409 and "需要输入活动名称" in await resp.text()
    resp = await console.client.post(base + "/resume", data={}, headers=op)
    assert resp.status == 409 and "不能继续" in await resp.text()
    for action in ("pause", "resume"):
        resp = await console.client.post(f"{base}/{action}", data={}, headers=op,
                                         allow_redirects=False)  # fmt: skip
        assert resp.status == 303
    resp = await console.client.post(base + "/cancel", data={"confirm_name": "上新"}, headers=op,
                                     allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    async with console.sessionmaker() as session:
        assert (await get_campaign(session, c.id)).status == "cancelled"
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-4:] == ["campaign.schedule", "campaign.pause", "campaign.resume",
                            "campaign.cancel"]  # fmt: skip


async def _with_deliveries(console, clock, names: list[str], status: str = SENT) -> int:
    async with console.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货",
                                            "send_at": (clock.now() + timedelta(hours=1)
                                                        ).isoformat()}, clock)  # fmt: skip
        step = (await list_steps(session, c.id))[0]
        for i, name in enumerate(names):
            buyer = Buyer(openid=f"oR{i}", display_name=name, first_seen_at=clock.now(),
                          tags=[], channels=[], interests=[])  # fmt: skip
            session.add(buyer)
            await session.flush()
            session.add(Delivery(step_id=step.id, campaign_id=c.id, buyer_id=buyer.id,
                                 openid=buyer.openid, status=status,
                                 reason="outside_window" if status == SKIPPED else None,
                                 channel="custom" if status == SENT else None,
                                 sent_at=clock.now() if status == SENT else None,
                                 created_at=clock.now()))  # fmt: skip
        c.status = "running"
    return c.id


async def test_recipients_csv_has_a_bom_and_neutralises_formulas(console, clock):
    viewer = await console.login_as("viewer")
    cid = await _with_deliveries(console, clock, ['=HYPERLINK("x")', "+1", "-2", "@a", "王老板"])
    resp = await console.client.get(f"/admin/campaigns/{cid}/recipients.csv", headers=viewer)
    body = await resp.read()
    assert resp.status == 200 and body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    for cell in ("'=HYPERLINK", "'+1", "'-2", "'@a", "王老板"):
        assert cell in text
    assert "\n=" not in text and ",=" not in text and ",+" not in text
    assert "已发送" in text and "客服消息" in text


async def test_recipients_filter_by_outcome_and_page_by_id(console, clock):
    viewer = await console.login_as("viewer")
    cid = await _with_deliveries(console, clock, [f"买家{i}" for i in range(55)], SKIPPED)
    page1 = await (await console.client.get(f"/admin/campaigns/{cid}/recipients?outcome=skipped",
                                            headers=viewer)).text()  # fmt: skip
    assert page1.count("超出48小时互动窗口") == 50
    after = re.search(r"after=(\d+)", page1).group(1)
    page2 = await (
        await console.client.get(
            f"/admin/campaigns/{cid}/recipients?outcome=skipped&after={after}", headers=viewer
        )
    ).text()
    assert page2.count("超出48小时互动窗口") == 5 and "下一页" not in page2
    sent = await (await console.client.get(f"/admin/campaigns/{cid}/recipients?outcome=sent",
                                           headers=viewer)).text()  # fmt: skip
    assert "没有「已发送」的收件人" in sent


async def test_report_polls_only_while_sending(console, clock):
    viewer = await console.login_as("viewer")
    cid = await _with_deliveries(console, clock, ["甲", "乙"])
    html = await (await console.client.get(f"/admin/campaigns/{cid}", headers=viewer)).text()
    assert 'data-poll-seconds="5"' in html and "目标" in html and "7天内下单" in html
    part = await console.client.get(f"/admin/campaigns/{cid}/progress",
                                    headers=viewer | {"HX-Request": "true"})  # fmt: skip
    assert (await part.text()).lstrip().startswith('<section id="progress"')
    async with console.sessionmaker() as session, session.begin():
        (await get_campaign(session, cid)).status = "done"
    part = await console.client.get(f"/admin/campaigns/{cid}/progress",
                                    headers=viewer | {"HX-Request": "true"})  # fmt: skip
    assert "data-poll-seconds" not in await part.text()


async def test_preview_shows_the_mass_send_outside_the_window_never_a_template_card(console, clock):
    op = await console.login_as("operator")
    async with console.sessionmaker() as session, session.begin():
        card = await create_campaign(session, {"kind": "broadcast", "name": "b", "text": "到货啦",
            "template_id": "TPL1", "send_at": (clock.now() + timedelta(hours=1)).isoformat()},
            clock)  # fmt: skip
        long = await create_campaign(session, {"kind": "broadcast", "name": "c",
            "text": "到" * 301, "send_at": (clock.now() + timedelta(hours=1)).isoformat()},
            clock)  # fmt: skip
    html = await (
        await console.client.get(f"/admin/campaigns/{card.id}/preview", headers=op)
    ).text()
    assert "无等级 · 窗口外" in html and "群发消息（所有人同一条" in html and "到货啦" in html
    assert "模板消息 · TPL1" not in html
    html = await (
        await console.client.get(f"/admin/campaigns/{long.id}/preview", headers=op)
    ).text()
    assert re.search(r"群发消息最多 300 字，这条有 3\d\d 字", html)


@pytest.fixture
async def app_with_wechat(make_wechat, fake_wechat):
    return await make_wechat(wechat=fake_wechat.wechat_config())


async def test_operator_binds_by_code_through_the_webhook_and_test_sends(app_with_wechat,
                                                                        fake_wechat, clock):  # fmt: skip
    wechat = app_with_wechat
    client = wechat.http
    op = await login(wechat.sessionmaker, clock, "operator", "amy")
    async with wechat.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货啦",
            "send_at": (clock.now() + timedelta(hours=1)).isoformat()}, clock)  # fmt: skip
    send = f"/admin/campaigns/{c.id}/test-send"
    resp = await client.post(send, data={"step": "0"}, headers=op)
    assert resp.status == 409 and "请先绑定您的微信" in await resp.text()
    html = await (await client.post("/admin/campaigns/wechat/code", data={}, headers=op)).text()
    code = re.search(r"LK\d{6}", html).group(0)
    wrong = "LK000000" if code != "LK000000" else "LK000001"
    assert "绑定码无效" in await wechat.send_text("oStaffAmy", wrong)
    reply = await wechat.send_text("oStaffAmy", code)
    fake_wechat.open_window("oStaffAmy")  # WeChat's side saw the same message
    assert "绑定成功" in reply
    assert "绑定码无效" in await wechat.send_text("oStaffAmy", code)  # one time only
    resp = await client.post(send, data={"step": "0"}, headers=op)
    assert "已发送到您的微信" in await resp.text(), await resp.text()
    assert resp.status == 200
    assert "到货啦" in str(fake_wechat.messages("oStaffAmy")[-1])
    clock.advance(hours=49)  # the window closed: WeChat would refuse
    op = await login(wechat.sessionmaker, clock, "operator", "amy2")
    async with wechat.sessionmaker() as session, session.begin():
        await bind_by_code(session, await new_bind_code(session, 2, clock.now()), "oStaffAmy",
                           clock.now())  # fmt: skip
    resp = await client.post(send, data={"step": "0"}, headers=op)
    assert resp.status == 409 and "请先用此微信给公众号发一条消息" in await resp.text()
    # Outside the window the mass preview still shows what dormant buyers will get.
    resp = await client.post(send, data={"step": "0", "mode": "mass"}, headers=op)
    assert resp.status == 200 and "已群发预览到您的微信" in await resp.text()
    preview = fake_wechat.messages("oStaffAmy")[-1]
    assert preview["kind"] == "mass_preview" and "到货啦" in preview["content"]
    async with wechat.sessionmaker() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("campaign.test_send") == 4 and "staff_wechat.code" in actions


async def test_odd_numbers_in_the_query_and_form_are_not_errors(console, clock):
    op = await console.login_as("operator")
    async with console.sessionmaker() as session, session.begin():
        c = await create_campaign(session, {"kind": "broadcast", "name": "a", "text": "到货",
            "send_at": (clock.now() + timedelta(hours=1)).isoformat()}, clock)  # fmt: skip
    for path in (f"/admin/campaigns/{c.id}/preview?step=²", f"/admin/campaigns/{c.id}/preview?step="
                 + "9" * 5000, f"/admin/campaigns/{c.id}/recipients?after=²&outcome=x",
                 "/admin/campaigns?status=nope", "/admin/campaigns/new?kind=x",
                 "/admin/campaigns/99999999999999999999999"):  # fmt: skip
        assert (await console.client.get(path, headers=op)).status < 500, path
    resp = await console.client.post(f"/admin/campaigns/{c.id}/test-send", data={"step": "²"},
                                     headers=op)  # fmt: skip
    assert resp.status == 409
    form = livestream_form(clock, duration_h="nan", kind="bogus")
    resp = await console.client.post("/admin/campaigns/new", data=form, headers=op)
    assert resp.status == 400 and field_error(await resp.text(), "duration_h")
    form = {"kind": "recall", "name": "x", "window_start": "2026-13-45T99:00",
            "window_end": local(clock, days=1), "dormant_days": "9" * 5000}  # fmt: skip
    html = await (await console.client.post("/admin/campaigns/new", data=form, headers=op)).text()
    assert field_error(html, "dormant_days") == "请填写整数"
    assert field_error(html, "window_start") == "请选择时间（北京时间）"


async def test_the_schedule_dialog_counts_each_channel_and_asks_when_most_cannot_be_reached(
    console, clock
):
    now = clock.now()
    async with console.sessionmaker() as session, session.begin():
        for i, days in enumerate([0, 40, 40, 40]):
            session.add(Buyer(openid=f"oS{i}", first_seen_at=now - timedelta(days=100),
                              last_interaction_at=now - timedelta(days=days), tags=[],
                              channels=[], interests=[]))  # fmt: skip
        await session.flush()
        dormant = await session.scalars(select(Buyer.id).where(Buyer.openid != "oS0"))
        session.add_all(MassAllowance(buyer_id=b, month=month_of(now), used=4) for b in dormant)
        c = await create_campaign(session, {"kind": "broadcast", "name": "上新", "text": "到货",
                                            "send_at": (now + timedelta(hours=1)).isoformat()},
                                  clock)  # fmt: skip
    op = await console.login_as("operator")
    html = await (await console.client.get(f"/admin/campaigns/{c.id}/summary", headers=op)).text()
    rows = {
        m[0]: int(m[1]) for m in re.findall(r"<tr><td>(\S+?)</td><td class=\"num\">(\d+)", html)
    }
    assert rows == {"客服消息": 1, "群发": 0, "收不到": 3}
    assert "48 小时内未互动且本月群发次数已用完 3 位" in html
    assert "我知道大部分买家收不到，仍要排期" in html
    schedule = f"/admin/campaigns/{c.id}/schedule"
    resp = await console.client.post(schedule, data={}, headers=op, allow_redirects=False)
    assert resp.status == 409
    assert (await get_campaign_status(console, c.id)) == "draft"
    resp = await console.client.post(
        schedule, data={"confirm_reach": "1"}, headers=op, allow_redirects=False
    )
    assert resp.status == 303 and (await get_campaign_status(console, c.id)) == "scheduled"


async def get_campaign_status(console, campaign_id: int) -> str:
    async with console.sessionmaker() as session:
        return (await get_campaign(session, campaign_id)).status


async def test_scheduling_is_refused_while_the_mass_text_is_over_300_characters(console, clock):
    now = clock.now()
    async with console.sessionmaker() as session, session.begin():
        session.add(Buyer(openid="oFar", first_seen_at=now - timedelta(days=100),
                          last_interaction_at=now - timedelta(days=40), tags=[], channels=[],
                          interests=[]))  # fmt: skip
        c = await create_campaign(session, {"kind": "broadcast", "name": "长文", "text": "新" * 301,
                                            "send_at": (now + timedelta(hours=1)).isoformat()},
                                  clock)  # fmt: skip
    op = await console.login_as("operator")
    resp = await console.client.post(f"/admin/campaigns/{c.id}/schedule",
                                     data={"confirm_reach": "1"}, headers=op)  # fmt: skip
    assert resp.status == 409 and "无法排期：群发消息最多 300 字" in await resp.text()
    assert (await get_campaign_status(console, c.id)) == "draft"
