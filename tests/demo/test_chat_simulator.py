"""The buyer chat simulator talks to the real webhook as WeChat would (safe mode here)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from bot.database import create_engine, sessionmaker
from bot.models import Buyer
from demo.simulator.chat import ChatSettings, create_chat_app
from laoke.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def config(make_config, fake_wechat):
    return make_config(
        wechat={"api_base_url": fake_wechat.url, "encrypt_mode": "safe"},
        tiers={"levels": [{"key": "gold", "name": "金卡会员", "rank": 1, "min_spend": 1.0}]},
    )


@pytest.fixture
async def webhook_url(aiohttp_server, config, clock):
    server = await aiohttp_server(create_app(config, clock=clock))
    return str(server.make_url(config.server.webhook_path))


@pytest.fixture
def chat_app(config, clock, fake_wechat, webhook_url):
    settings = ChatSettings(
        webhook_url=webhook_url,
        fake_wechat_url=fake_wechat.url,
        wechat=config.wechat,
        database_url=config.database.url,
        tier_names=ChatSettings.tier_names_of(config),
    )
    return create_chat_app(settings, clock=clock)


@pytest.fixture
async def chat(aiohttp_client, chat_app):
    return await aiohttp_client(chat_app)


async def buyer_row(config, openid: str) -> Buyer | None:
    engine = create_engine(config.database.url)
    try:
        async with sessionmaker(engine)() as session:
            return await session.scalar(select(Buyer).where(Buyer.openid == openid))
    finally:
        await engine.dispose()


async def test_new_buyer_follows_through_a_qr_scene_and_is_welcomed(chat, config):
    result = await (await chat.post("/api/buyers", json={"scene": "expo_2026"})).json()
    assert result["ok"] and "欢迎关注" in result["reply"]
    buyer = await buyer_row(config, result["openid"])
    assert buyer.subscribed and buyer.qr_scene == "expo_2026"
    listed = await (await chat.get("/api/buyers")).json()
    assert result["openid"] in [b["openid"] for b in listed["buyers"]]


async def test_text_gets_the_help_reply_and_opens_the_window(chat, fake_wechat):
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    result = await (await chat.post("/api/send", json={"openid": openid, "text": "帮助"})).json()
    assert result == {"ok": True, "reply": result["reply"]}
    assert "回复「名片」" in result["reply"]
    assert fake_wechat.state.windows[openid].quota == 5  # the 48-hour message window


async def test_pushes_for_the_buyer_are_listed_after_an_id(chat, fake_wechat):
    fake_wechat.open_window("o_pushed")
    fake_wechat.state.record("o_pushed", "custom", msgtype="text", content="新品上架")
    first = await (await chat.get("/api/pushes", params={"openid": "o_pushed"})).json()
    assert [m["content"] for m in first["messages"]] == ["新品上架"]
    later = await (
        await chat.get("/api/pushes", params={"openid": "o_pushed", "since": first["last_id"]})
    ).json()
    assert later["messages"] == []


async def test_unfollow_marks_the_buyer_unsubscribed(chat, config):
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    result = await (
        await chat.post("/api/event", json={"openid": openid, "event": "unsubscribe"})
    ).json()
    assert result == {"ok": True, "reply": None}
    assert not (await buyer_row(config, openid)).subscribed


async def test_bad_requests_are_refused_with_400(chat):
    assert (await chat.post("/api/send", json={"openid": "o1"})).status == 400
    assert (await chat.post("/api/event", json={"openid": "o1", "event": "nope"})).status == 400
    assert (await chat.post("/api/send", data=b"not json")).status == 400


async def test_page_is_served_in_chinese(chat):
    html = await (await chat.get("/")).text()
    assert "买家聊天模拟器" in html and "交换名片" in html


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser test needs Chromium at {CHROMIUM}"
)
async def test_browser_chat_sends_help_and_sees_the_reply(aiohttp_server, chat_app):
    from playwright.async_api import async_playwright

    server = await aiohttp_server(chat_app)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            await page.click("#new-buyer")
            await page.wait_for_selector(".msg.bot >> text=欢迎关注")
            await page.fill("#input", "帮助")
            await page.press("#input", "Enter")
            await page.wait_for_selector(".msg.me >> text=帮助")
            reply = page.locator(".msg.bot", has_text="回复「会员」查看会员等级和权益")
            await reply.wait_for(timeout=10_000)
            assert await page.locator("#buyers li").count() == 1
        finally:
            await browser.close()


async def test_history_shows_earlier_messages_with_their_replies(chat):
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    await chat.post("/api/send", json={"openid": openid, "text": "帮助"})
    past = (await (await chat.get("/api/history", params={"openid": openid})).json())["messages"]
    assert [m["text"] for m in past] == ["「关注了公众号」", "帮助"]
    assert "欢迎关注" in past[0]["reply"] and "回复「会员」" in past[1]["reply"]


async def test_menu_click_is_sent_as_a_click_event(chat, fake_wechat):
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    result = await (
        await chat.post("/api/event", json={"openid": openid, "event": "CLICK", "key": "CARD"})
    ).json()
    assert result["ok"] and result["reply"]  # handlers/card.py answers the CARD menu key
    assert fake_wechat.state.windows[openid].quota == 3  # a click opens the short window


async def test_the_buyer_list_shows_a_tiers_name_not_its_key(chat, config):
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    engine = create_engine(config.database.url)
    try:
        async with sessionmaker(engine)() as session:
            buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
            buyer.tier_key = "gold"
            await session.commit()
    finally:
        await engine.dispose()
    [listed] = (await (await chat.get("/api/buyers")).json())["buyers"]
    assert (listed["tier"], listed["tier_key"]) == ("金卡会员", "gold")


async def test_the_published_menu_is_what_the_page_shows(chat, fake_wechat):
    assert (await (await chat.get("/api/menu")).json())["button"] == []
    fake_wechat.state.menu = [{"name": "联系客服", "type": "click", "key": "HANDOFF"}]
    shown = await (await chat.get("/api/menu")).json()
    assert shown["button"][0]["key"] == "HANDOFF"
    openid = (await (await chat.post("/api/buyers", json={})).json())["openid"]
    clicked = await chat.post(
        "/api/event", json={"openid": openid, "event": "CLICK", "key": "HANDOFF"}
    )
    assert (await clicked.json())["reply"]  # answered as a request for a person
