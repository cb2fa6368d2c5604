"""收件箱 routes: the list and thread, replies through the window rule (refused server-side
once the window has closed), quick-reply placeholders, 转交 / 标为已处理 audited, the live
feed's guard and the dashboard fragment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import Buyer, OutboundMessage
from console.audit import AuditEntry
from inbox.conversations import hand_over
from inbox.models import Conversation, InboxMessage
from laoke.app import create_app
from tests.console.conftest import ConsoleClient


@pytest.fixture
async def inbox(aiohttp_client, make_config, clock, fake_wechat):
    config = make_config(
        wechat=fake_wechat.wechat_config() | {"template_ids": {"inbox_reply": "TPL_REPLY"}}
    )
    app = create_app(config, clock=clock)
    console = ConsoleClient(await aiohttp_client(app), app, clock)
    console.fake = fake_wechat
    return console


async def _waiting_buyer(console, openid="oShip", name="王姐", text="发货了吗", *, hours_ago=0):
    now = console.clock.now()
    async with console.sessionmaker() as session, session.begin():
        buyer = Buyer(
            openid=openid, first_seen_at=now, display_name=name,
            last_interaction_at=now - timedelta(hours=hours_ago),
        )  # fmt: skip
        session.add(buyer)
        await session.flush()
        handoff = await hand_over(session, buyer, text, now, person=False)
    console.fake.open_window(openid, now - timedelta(hours=hours_ago))
    return handoff.conversation.id


async def _audit(console, action):
    async with console.sessionmaker() as session:
        return (await session.scalars(select(AuditEntry).where(AuditEntry.action == action))).all()


async def test_empty_inbox_says_so(inbox):
    staff = await inbox.login_as("operator")
    html = await (await inbox.client.get("/admin/inbox", headers=staff)).text()
    assert "没有等待回复的买家" in html and "今天已回复 0 条" in html


async def test_a_staff_reply_reaches_the_buyer_and_ends_the_wait(inbox):
    conv_id = await _waiting_buyer(inbox)
    staff = await inbox.login_as("operator", "xiaozhang")
    html = await (await inbox.client.get("/admin/inbox", headers=staff)).text()
    assert "发货了吗" in html and "已等待 0分" in html
    assert "窗口剩余 48:00 · 还可发 5/5 条（含活动推送）" in html
    resp = await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data={"c": str(conv_id), "text": "今天下午发出"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == f"/admin/inbox?c={conv_id}"
    sent = inbox.fake.messages("oShip")
    assert [m["content"] for m in sent] == ["今天下午发出"]
    async with inbox.sessionmaker() as session:
        conv = await session.get(Conversation, conv_id)
        staff_msg = await session.scalar(select(InboxMessage).where(InboxMessage.author == "staff"))
        out = await session.scalar(select(OutboundMessage))
    assert conv.waiting_since is None and conv.assigned_to is not None  # first reply assigns
    assert staff_msg.staff_name == "xiaozhang" and out.purpose == "staff_reply"
    assert len(await _audit(inbox, "inbox.reply")) == 1
    html = await (await inbox.client.get(f"/admin/inbox?c={conv_id}", headers=staff)).text()
    assert "还可发 4/5 条" in html


async def test_the_list_shows_each_wait_against_the_target_and_who_answers(inbox):
    await _waiting_buyer(inbox, "oLate", "李哥", "能开票吗")
    inbox.clock.advance(minutes=45)
    await _waiting_buyer(inbox, "oNew", "王姐", "发货了吗")
    inbox.clock.advance(minutes=10)
    staff = await inbox.login_as("operator", "xiaozhang")
    html = await (await inbox.client.get("/admin/inbox?partial=list", headers=staff)).text()
    assert "已等待 55分 / 目标 30分 · 已超时" in html  # [inbox] response_target_minutes
    assert "已等待 10分 / 目标 30分<" in html  # within the target: not marked
    unassigned = 'class="assignee unassigned">未分配<'
    assert html.count(unassigned) == 2
    conv_id = (await _conversation_ids(inbox))[0]  # 李哥's
    resp = await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data={"c": str(conv_id), "text": "可以开"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    html = await (await inbox.client.get("/admin/inbox?tab=all", headers=staff)).text()
    assert "负责：xiaozhang" in html and html.count(unassigned) == 1


async def _conversation_ids(console) -> list[int]:
    async with console.sessionmaker() as session:
        return list(await session.scalars(select(Conversation.id).order_by(Conversation.id)))


async def test_an_image_reply_is_uploaded_then_sent(inbox):
    conv_id = await _waiting_buyer(inbox)
    staff = await inbox.login_as("operator")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("c", str(conv_id))
    form.add_field("image", png, filename="goods.png", content_type="image/png")
    resp = await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data=form, allow_redirects=False
    )
    assert resp.status == 303
    (sent,) = inbox.fake.messages("oShip")
    assert sent["msgtype"] == "image"
    assert inbox.fake.state.media[sent["payload"]["media_id"]] == ("image/png", png)


async def test_a_closed_window_refuses_free_text_and_offers_the_template(inbox):
    conv_id = await _waiting_buyer(inbox, hours_ago=49)
    staff = await inbox.login_as("operator")
    html = await (await inbox.client.get(f"/admin/inbox?c={conv_id}", headers=staff)).text()
    assert 'id="composer"' not in html and "来消息时提醒我" in html and "发送模板消息" in html
    resp = await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data={"c": str(conv_id), "text": "在的"}
    )
    assert resp.status == 400 and "48 小时没有互动" in await resp.text()
    assert inbox.fake.messages("oShip") == []
    resp = await inbox.client.post(
        "/admin/inbox/template", headers=staff, data={"c": str(conv_id), "text": "已发货"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    (sent,) = inbox.fake.messages("oShip")
    assert sent["template_id"] == "TPL_REPLY" and sent["data"]["thing1"]["value"] == "已发货"


async def test_an_unfilled_placeholder_blocks_sending(inbox):
    conv_id = await _waiting_buyer(inbox)
    staff = await inbox.login_as("operator")
    resp = await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data={"c": str(conv_id), "text": "{称呼}您好"}
    )
    assert resp.status == 400 and "请先填写 {称呼}" in await resp.text()
    assert inbox.fake.messages("oShip") == []


async def test_quick_replies_fill_the_buyers_name(inbox):
    conv_id = await _waiting_buyer(inbox)
    staff = await inbox.login_as("operator")
    resp = await inbox.client.post(
        "/admin/inbox/quick-replies", headers=staff,
        data={"c": str(conv_id), "title": "发货", "body": "{称呼}您好，今天发出"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    html = await (await inbox.client.get(f"/admin/inbox?c={conv_id}", headers=staff)).text()
    assert 'data-body="王姐您好，今天发出"' in html
    bad = await inbox.client.post(
        "/admin/inbox/quick-replies", headers=staff, data={"title": "", "body": "x"}
    )
    assert bad.status == 400 and "标题需要" in await bad.text()


async def test_transfer_and_done_are_audited_and_done_ends_the_wait(inbox):
    conv_id = await _waiting_buyer(inbox)
    staff = await inbox.login_as("operator")
    colleague = await inbox.add_user("xiaoli", "operator")
    viewer = await inbox.add_user("kan", "viewer")
    ok = await inbox.client.post(
        "/admin/inbox/assign", headers=staff, data={"c": str(conv_id), "user_id": colleague.id},
        allow_redirects=False,
    )  # fmt: skip
    assert ok.status == 303
    refused = await inbox.client.post(
        "/admin/inbox/assign", headers=staff, data={"c": str(conv_id), "user_id": viewer.id}
    )
    assert refused.status == 400
    await inbox.client.post("/admin/inbox/done", headers=staff, data={"c": str(conv_id)})
    async with inbox.sessionmaker() as session:
        conv = await session.get(Conversation, conv_id)
    assert (conv.assigned_to, conv.status, conv.waiting_since) == (colleague.id, "done", None)
    (assigned,) = await _audit(inbox, "inbox.assign")
    assert assigned.after["assigned_to"] == colleague.id
    assert len(await _audit(inbox, "inbox.done")) == 1


@pytest.mark.parametrize(
    "data", [{}, {"c": "x"}, {"c": "99999"}, {"c": "-1"}, {"c": "1", "user_id": "abc"}]
)
async def test_bad_forms_are_refused_without_a_server_error(inbox, data):
    staff = await inbox.login_as("operator")
    for path in ("reply", "done", "assign", "remind", "template"):
        resp = await inbox.client.post(f"/admin/inbox/{path}", headers=staff, data=data)
        assert 400 <= resp.status < 500, (path, data)


async def test_the_buyer_link_opens_that_conversation(inbox):
    await _waiting_buyer(inbox, "oA", "老王", "有新款吗")
    conv_id = await _waiting_buyer(inbox, "oB", "阿芳", "能开票吗")
    staff = await inbox.login_as("operator")
    async with inbox.sessionmaker() as session:
        buyer_id = (await session.get(Conversation, conv_id)).buyer_id
    html = await (await inbox.client.get(f"/admin/inbox?buyer={buyer_id}", headers=staff)).text()
    assert f'data-conversation="{conv_id}"' in html


async def test_the_event_stream_is_only_for_event_sources(inbox):
    staff = await inbox.login_as("operator")
    resp = await inbox.client.get("/admin/inbox/events", headers=staff)
    assert resp.status == 406


async def test_the_dashboard_fragment_counts_waiting_and_replies(inbox):
    conv_id = await _waiting_buyer(inbox)
    await _waiting_buyer(inbox, "oOther", "小李")
    staff = await inbox.login_as("operator", "xiaozhang")
    inbox.clock.advance(minutes=5)
    await inbox.client.post(
        "/admin/inbox/reply", headers=staff, data={"c": str(conv_id), "text": "好的"}
    )
    viewer = await inbox.login_as("viewer")
    part = await inbox.client.get("/admin/inbox/kpis", headers=viewer | {"HX-Request": "true"})
    html = await part.text()
    assert "<html" not in html and "xiaozhang" in html and "5分" in html
    assert '<dd class="num">1</dd>' in html
    full = await (await inbox.client.get("/admin/inbox/kpis", headers=viewer)).text()
    assert "<html" in full and "收件箱概况" in full


async def test_remind_me_flags_the_row_once_the_buyer_writes_again(inbox):
    conv_id = await _waiting_buyer(inbox, hours_ago=49)
    staff = await inbox.login_as("operator")
    resp = await inbox.client.post(
        "/admin/inbox/remind", headers=staff, data={"c": str(conv_id), "on": "1"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    html = await (await inbox.client.get(f"/admin/inbox?c={conv_id}", headers=staff)).text()
    assert "来消息时提醒我</span>" in html
    assert "不再提醒" in html
    async with inbox.sessionmaker() as session, session.begin():  # the buyer writes again
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "oShip"))
        buyer.last_interaction_at = inbox.clock.now()
    html = await (await inbox.client.get(f"/admin/inbox?c={conv_id}", headers=staff)).text()
    assert "买家来消息了" in html and 'id="composer"' in html
    assert len(await _audit(inbox, "inbox.remind")) == 1
