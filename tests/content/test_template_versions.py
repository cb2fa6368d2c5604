"""Template versions: draft, checked publish, rollback as a new version, reset to the file,
and a published version that fails for a real buyer falling back to the file."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.dialog.rendering import Renderer
from content import template_versions as tv
from content.catalogue import CATALOGUE
from content.overrides import PublishedTemplates, refresh
from tests.tiers_fixture import GOLD, SILVER

NOW = datetime(2026, 5, 18, 6, 2, tzinfo=UTC)
ADMIN = (None, "张三")


@pytest.fixture
def config(make_config):
    return make_config(tiers={"levels": [SILVER, GOLD]})


def test_every_default_passes_its_own_check(config):
    renderer = Renderer()
    for name, info in CATALOGUE.items():
        if info.partial or info.topic == "活动":
            continue
        assert tv.check_source(renderer, config, name, tv.default_source(name)) == [], name


def test_a_broken_version_is_refused_with_line_and_reason(config):
    renderer = Renderer()
    syntax = tv.check_source(renderer, config, "welcome", "第一行\n{% if %}")
    assert syntax[0].line == 2
    missing = tv.check_source(renderer, config, "welcome", "你好\n{{ buyer.company[0] }}")
    # no card → company is None: fails for the 无名片 sample, on line 2
    assert missing[0].line == 2 and "无名片" in missing[0].sample
    empty = tv.check_source(renderer, config, "welcome", "{% if false %}x{% endif %}")
    assert "为空" in empty[0].reason


async def test_publish_rollback_reset(sessions, config):
    renderer = Renderer()
    async with sessions() as s, s.begin():
        v1 = await tv.save_draft(s, "welcome", "欢迎一", ADMIN, NOW)
        v2 = await tv.save_draft(s, "welcome", "欢迎二", ADMIN, NOW)
        states = await tv.states(s)
        assert not states["welcome"].modified and states["welcome"].draft.version == 2
        await tv.publish(s, renderer, config, "welcome", v1.version, "张三", NOW)
        assert await tv.load_published(s) == {"welcome": (1, "欢迎一")}
        await tv.publish(s, renderer, config, "welcome", v2.version, "张三", NOW)
        before, after = await tv.rollback(s, renderer, config, "welcome", 1, ADMIN, NOW)
        assert before == {"version": 2} and after == {"version": 3, "from_version": 1}
        assert await tv.load_published(s) == {"welcome": (3, "欢迎一")}
        await tv.reset(s, "welcome", ADMIN, NOW)
        assert await tv.load_published(s) == {}
        assert not (await tv.states(s))["welcome"].modified
        assert await tv.live_source(s, "welcome") == tv.default_source("welcome")
        history = await tv.history(s, "welcome")
        assert [(h.version, h.kind) for h in history] == [
            (4, "reset"), (3, "rollback"), (2, "edit"), (1, "edit"),
        ]  # fmt: skip
        assert await tv.read_generation(s) == 4  # publish, publish, rollback, reset


async def test_publish_refuses_a_version_that_fails_a_sample(sessions, config):
    async with sessions() as s, s.begin():
        v = await tv.save_draft(s, "tier_upgrade", "升{{ next_tier.name }}", ADMIN, NOW)
        with pytest.raises(tv.VersionError, match="第 1 行"):
            await tv.publish(s, Renderer(), config, "tier_upgrade", v.version, "张三", NOW)
        assert await tv.load_published(s) == {}


async def test_a_version_failing_for_a_real_buyer_sends_the_default(sessions):
    renderer = Renderer()
    source = PublishedTemplates(renderer)
    buyer = SimpleNamespace(id=7, display_name=None, company=None, opted_out=False,
                            platform_account=None, phone=None)  # fmt: skip
    source.load(1, {"help": (5, "{{ buyer.display_name[0] }}姐您好"), "welcome": (2, "新欢迎")})
    assert renderer.render("welcome", buyer=buyer) == "新欢迎"
    text = renderer.render("help", buyer=buyer)
    source.load(1, {})
    assert text == renderer.render("help", buyer=buyer)  # the file, not an empty message
    async with sessions() as s, s.begin():
        source.pending and await refresh(s, source)
    async with sessions() as s:
        [failure] = await tv.failures(s, "help")
    assert (failure.version, failure.buyer_id, failure.line) == (5, 7, 1)


def test_an_edited_version_sees_plain_documented_values_only():
    renderer = Renderer()
    source = PublishedTemplates(renderer)
    buyer = SimpleNamespace(id=7, display_name="王姐", company="王姐服饰", opted_out=False,
                            platform_account=None, phone=None, secret="x")  # fmt: skip
    source.load(1, {"welcome": (1, "{{ buyer.display_name }}{{ buyer.secret }}")})
    # an undocumented attribute is undefined → the file is sent
    assert (
        renderer.render("welcome", buyer=buyer)
        == renderer.env.get_template("messages/welcome.j2").render(buyer=buyer).strip()
    )
    source.load(2, {"welcome": (2, "{{ buyer.__class__ }}|{{ buyer.display_name }}")})
    assert renderer.render("welcome", buyer=buyer) != "View|王姐"


async def test_demo_seed_publishes_one_edit_and_leaves_a_draft_once(sessions, config, clock):
    from content.demo_templates import seed_demo_templates

    for _ in range(2):
        await seed_demo_templates(sessions, config, clock)
    async with sessions() as s:
        state = (await tv.states(s))["live_none"]
        assert state.modified and state.published.version == 1 and state.draft.version == 2
        assert len(await tv.history(s, "live_none")) == 2
