"""`laoke demo`: seeded demo data, and the whole product answering a chat on one port."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.appkeys import SERVICES
from bot.database import create_engine, sessionmaker
from bot.models import Buyer
from bot.wechat.client import WeChatAPIError
from demo.demo import DEMO_BUYERS, DEMO_TIERS, demo_openid, prepare_demo, seed_demo
from insights.demo_history import PEOPLE as HISTORY_BUYERS
from laoke.cli import main
from laoke.demo import start_demo

ROOT = Path(__file__).resolve().parents[2]


async def all_buyers(sessions) -> list[Buyer]:
    async with sessions() as session:
        # The demo's own buyers (insights/demo_history.py adds a year of others).
        return list((await session.scalars(select(Buyer).where(Buyer.openid.like("oDemo%")))).all())


async def test_seeding_adds_a_few_hundred_varied_buyers(sessions, make_config, clock):
    await seed_demo(sessions, make_config(tiers={"levels": DEMO_TIERS}), clock)
    buyers = await all_buyers(sessions)
    assert len(buyers) == DEMO_BUYERS
    ages = [clock.now() - b.last_interaction_at for b in buyers]
    assert min(ages) < timedelta(hours=1) and max(ages) > timedelta(days=90)
    assert sum(age < timedelta(hours=48) for age in ages) > 30  # some inside the window
    assert 20 < sum(not b.subscribed for b in buyers) < DEMO_BUYERS / 2
    assert sum(b.card_completed_at is not None for b in buyers) > 80
    assert sum(b.consent_at is not None and b.card_completed_at is None for b in buyers) > 10
    assert len({b.qr_scene for b in buyers}) > 3
    assert {b.tier_key for b in buyers} >= {None, "silver", "gold"}
    assert any(b.opted_out for b in buyers)


async def test_seeding_twice_changes_nothing(sessions, make_config, clock):
    config = make_config(tiers={"levels": DEMO_TIERS})
    await seed_demo(sessions, config, clock)
    async with sessions() as session, session.begin():
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == demo_openid(0)))
        buyer.display_name = "改过的名字"
    clock.advance(days=3)
    await seed_demo(sessions, config, clock)
    async with sessions() as session:
        mine = Buyer.openid.like("oDemo%")
        assert await session.scalar(select(func.count()).where(mine)) == DEMO_BUYERS
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == demo_openid(0)))
    assert buyer.display_name == "改过的名字"


def test_readme_and_the_simulator_docs_give_the_same_number_of_demo_buyers():
    total = DEMO_BUYERS + HISTORY_BUYERS
    phrase = f"about {round(total, -2):,} buyers"
    for doc in ("README.md", "docs/simulators.md"):
        text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())
        assert phrase in text, doc


def test_demo_config_keeps_its_secrets_across_runs(tmp_path):
    first = prepare_demo(tmp_path, "127.0.0.1", 8123)
    second = prepare_demo(tmp_path, "127.0.0.1", 8124)
    assert first.wechat.token == second.wechat.token
    assert first.wechat.encoding_aes_key == second.wechat.encoding_aes_key
    assert first.api.token == second.api.token and first.api.token
    assert second.wechat.api_base_url == "http://127.0.0.1:8124/"
    assert second.wechat.encrypt_mode == "safe"
    on_disk = tomllib.loads((tmp_path / "config.toml").read_text(encoding="utf-8"))
    assert on_disk["server"]["port"] == 8124


@pytest.fixture
async def demo(tmp_path):
    running = await start_demo(tmp_path / "demo", "127.0.0.1", 0)
    yield running
    await running.stop()


async def test_demo_answers_a_chat_message_end_to_end(demo):
    chat = demo.urls["chat simulator"]
    async with aiohttp.ClientSession() as http:
        async with http.get(chat + "api/buyers") as resp:
            assert len((await resp.json())["buyers"]) > 50
        async with http.post(chat + "api/buyers", json={"scene": "expo_2026"}) as resp:
            created = await resp.json()
        assert "欢迎关注" in created["reply"]
        async with http.post(
            chat + "api/send", json={"openid": created["openid"], "text": "帮助"}
        ) as resp:
            answer = await resp.json()
        assert "回复「会员」" in answer["reply"]
        async with http.get(demo.urls["healthz"]) as resp:
            assert resp.status == 200


async def test_demo_api_client_sends_through_the_in_process_fake_wechat(demo):
    api = demo.runner.app[SERVICES].api
    await api.send_text(demo_openid(_recent_buyer(demo)), "新品到了")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            demo.urls["chat simulator"] + "api/pushes",
            params={"openid": demo_openid(_recent_buyer(demo))},
        ) as resp:
            pushed = (await resp.json())["messages"]
    # The demo's own livestream announcement may reach this buyer too (it is sent when the
    # demo starts); what the API client sent arrives once, and nothing else but campaign pushes.
    contents = [m["content"] for m in pushed]
    assert contents.count("新品到了") == 1
    assert all(c.startswith("【") for c in contents if c != "新品到了"), contents
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text("o_never_wrote", "x")
    assert err.value.errcode == 45015


def _recent_buyer(demo) -> int:
    """The first demo buyer whose 48-hour window the demo replayed to the fake WeChat."""
    from demo.simulator.fake_wechat import FAKE

    windows = demo.runner.app[FAKE].windows
    return next(n for n in range(DEMO_BUYERS) if demo_openid(n) in windows)


def test_demo_command_is_available():
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0 and "--data" in result.output


async def test_demo_restart_on_the_same_folder_keeps_the_data(tmp_path):
    for _ in range(2):
        running = await start_demo(tmp_path, "127.0.0.1", 0)
        await running.stop()
    engine = create_engine(running.config.database.url)
    try:
        async with sessionmaker(engine)() as session:
            count = await session.scalar(select(func.count()).where(Buyer.openid.like("oDemo%")))
    finally:
        await engine.dispose()
    assert count == DEMO_BUYERS


async def test_demo_prints_console_logins_that_sign_in_with_their_role(demo):
    assert demo.urls["admin console"].endswith("/admin/")
    roles = {role.name: (name, password) for name, role, password in demo.logins}
    assert set(roles) == {"admin", "operator", "viewer"}
    name, password = roles["admin"]
    login = demo.urls["admin console"] + "login"
    # unsafe: aiohttp's cookie jar otherwise keeps no cookies for an IP address.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(login) as resp:
            csrf = (await resp.text()).split('name="csrf_token" value="')[1].split('"')[0]
        async with http.post(
            login, data={"name": name, "password": password, "csrf_token": csrf}
        ) as resp:
            assert str(resp.url).endswith("/admin/")
            assert "成员与角色" in await resp.text()  # the admin's navigation


async def test_demo_mass_sends_are_reported_back_by_the_finish_event(demo):
    """The demo's own announcement reaches dormant buyers by mass send; the in-process
    WeChat posts MASSSENDJOBFINISH to the webhook, which fills the campaign's report."""
    import asyncio

    from bot.appkeys import SESSIONMAKER
    from scheduler.models import MassSend

    for _ in range(150):
        async with demo.runner.app[SESSIONMAKER]() as session:
            done = (
                await session.scalars(select(MassSend).where(MassSend.finished_at.is_not(None)))
            ).all()
        if done:
            break
        await asyncio.sleep(0.1)
    assert done, "no mass send was reported back within 15 s"
    assert all(m.total_count == m.recipients and m.sent_count + m.filter_count == m.total_count
               for m in done)  # fmt: skip
