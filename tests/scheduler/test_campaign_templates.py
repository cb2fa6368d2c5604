"""A campaign's own template (message_source): checked at save, bounded at preview and send,
limited to its documented variables, and plain text."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from api_harness import AUTH, call, start_api
from campaign_harness import Harness, config_for, iso

from bot.appkeys import SESSIONMAKER
from bot.models import Buyer

# Fine for the sample buyers checked at save; ~10^5 scans of 100,000 characters for "坏".
SLOW_FOR_ONE = (
    "{{ name }}\n"
    "{% if buyer.company == '坏' %}{% for i in range(9999) %}{% for j in range(19) %}"
    "{% if ('ab'*50000).count('b') > 1 %}{% endif %}{% endfor %}{% endfor %}{% endif %}"
)


@pytest.fixture
async def api(aiohttp_client, make_config, clock):
    return await start_api(aiohttp_client, make_config, clock)


def broadcast(clock, **extra):
    send_at = (clock.now() + timedelta(hours=1)).isoformat()
    return {"name": "上新通知", "send_at": send_at, "text": "新品到货", **extra}


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("您好\n{{ 9**(3*9**7) }}", 2, "power"),
        ("您好\n\n{{ 'a'*200000000 }}", 3, "repetition"),
        ("{% for i in range(10**9) %}{% endfor %}", 1, "range"),
        ("{{ name.__class__.__mro__ }}", 1, "unsafe"),
        ("{{ text }}\n{{ campaign.metadata }}", 2, "'campaign' is undefined"),
        ("{{ registry }}", 1, "'registry' is undefined"),
        ("{{ buyer.phone }}", 1, "has no attribute 'phone'"),
        ("{{ step.campaign_id }}", 1, "has no attribute 'campaign_id'"),
        ("{% if step.kind == 'broadcast' %}\n{{ nope }}{% endif %}", 2, "'nope' is undefined"),
        ("{% if %}", 1, "Expected an expression"),
    ],
)
async def test_a_template_that_does_not_render_is_refused_at_save_naming_the_line(
    api, clock, source, line, reason
):
    started = time.monotonic()
    data = await call(
        api, "POST", "/api/campaigns/broadcasts", broadcast(clock, message_source=source), 400
    )
    assert time.monotonic() - started < 3
    assert data["field"] == "message_source"
    assert data["error"].startswith(f"message_source: line {line}: "), data
    assert reason in data["error"]


async def test_preview_shows_documented_fields_as_plain_text(api, clock):
    source = "{{ name }}'s 5 > 3 & {{ buyer.company }} {{ interests|join('、') }}"
    async with api.app[SESSIONMAKER].begin() as session:
        await session.execute(
            Buyer.__table__.update().where(Buyer.openid == "oBuyer0").values(company="A&B")
        )
    body = broadcast(
        clock, message_source=source, segment={"field": "tier", "op": "eq", "value": "gold"}
    )
    cid = (await call(api, "POST", "/api/campaigns/broadcasts", body, 201))["id"]
    preview = await call(api, "GET", f"/api/campaigns/{cid}/preview")
    assert preview["messages"][0]["text"] == "买家0's 5 > 3 & A&B 女装"


async def test_a_template_failing_for_one_buyer_answers_409_naming_the_line(api, clock):
    source = "{{ name }}\n{% if buyer.company == '坏' %}{{ 'a'*200000000 }}{% endif %}"
    async with api.app[SESSIONMAKER].begin() as session:
        await session.execute(
            Buyer.__table__.update().where(Buyer.openid == "oBuyer1").values(company="坏")
        )
    cid = (
        await call(
            api, "POST", "/api/campaigns/broadcasts", broadcast(clock, message_source=source), 201
        )
    )["id"]
    data = await call(api, "GET", f"/api/campaigns/{cid}/preview", status=409)
    assert data["error"].startswith("message_source: line 2: repetition longer than")


async def test_webhook_answers_within_budget_while_a_hostile_preview_runs(make_wechat, clock):
    wechat = await make_wechat(
        api={"token": "op-token"}, server={"run_senders": False, "run_scheduler": False}
    )
    now = clock.now()
    async with wechat.sessionmaker.begin() as session:
        session.add(
            Buyer(
                openid="oBad",
                company="坏",
                first_seen_at=now,
                last_interaction_at=now,
                tags=[],
                channels=[],
                interests=[],
            )
        )
    resp = await wechat.http.post(
        "/api/campaigns/broadcasts",
        json=broadcast(clock, message_source=SLOW_FOR_ONE),
        headers=AUTH,
    )
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["id"]
    await wechat.send_text("oWarm", "帮助")  # first request: imports and caches warmed

    async def preview() -> tuple[int, dict, float]:
        resp = await wechat.http.get(f"/api/campaigns/{cid}/preview", headers=AUTH)
        return resp.status, await resp.json(), time.monotonic()

    task = asyncio.create_task(preview())
    await asyncio.sleep(0.2)  # the preview is rendering now
    started = time.monotonic()
    reply = await wechat.send_text("oBuyer", "帮助")
    answered = time.monotonic()
    status, data, previewed = await task
    assert reply and answered - started < 0.5  # the render did not hold the event loop
    assert answered < previewed  # … and the webhook did not wait for the preview
    assert status == 409 and "took longer than" in data["error"], data


async def test_a_template_that_trips_a_limit_at_send_costs_the_time_limit_once(
    make_config, fake_wechat, clock
):
    """Buyers "坏" make the template slow: the first one spends the time limit and fails as
    render_error; the other two within a short deadline; everyone else gets the message."""
    config = config_for(make_config, fake_wechat)
    async with Harness(config, clock, fake_wechat) as h:
        await h.add_buyers(3, prefix="bad", company="坏")
        await h.add_buyers(2, prefix="ok", display_name="王姐")
        spec = broadcast(clock, message_source=SLOW_FOR_ONE)
        cid = await h.campaign({"kind": "broadcast", **spec, "send_at": iso(clock)})
        started = time.monotonic()
        await h.run(cid)
        assert time.monotonic() - started < 2.5  # one time limit (1 s), not three
        assert await h.reasons(cid) == {("failed", "render_error"): 3, ("sent", None): 2}
        assert [m["content"] for m in h.fake.messages("ok0")] == ["王姐"]


async def test_the_save_check_has_one_deadline_for_all_sample_contexts(api, clock):
    """Each sample render stays under the 1 s limit, but all of them together would take
    long: the save is refused after about two seconds, not after minutes."""
    slow = (
        "{% for i in range(9999) %}{% if ('ab'*50000).count('b') > 1 %}{% endif %}"
        "{% endfor %}{{ name }}"
    )
    started = time.monotonic()
    data = await call(
        api, "POST", "/api/campaigns/broadcasts", broadcast(clock, message_source=slow), 400
    )
    assert time.monotonic() - started < 4
    assert data["error"].startswith("message_source: ") and "took longer than" in data["error"]


def test_a_published_campaign_default_reaches_campaigns_and_a_failing_one_falls_back(
    make_config,
):
    """Admins edit the campaign_* defaults on the 话术模板 page: a campaign with no message of
    its own sends the published version; when that fails for a buyer, the buyer gets the
    file's text and the failure is kept for the template's page."""
    from types import SimpleNamespace

    from bot.dialog.rendering import Renderer
    from content.overrides import PublishedTemplates
    from scheduler.messages import MEMO_FIELDS, CampaignMessages
    from scheduler.models import BROADCAST, SEND, Campaign, CampaignStep

    config = make_config()
    renderer = Renderer()
    published = PublishedTemplates(renderer)
    messages = CampaignMessages(
        renderer.env, config.campaigns.timezone, config.tiers.levels, published
    )
    campaign = Campaign(id=7, name="内部名", kind=BROADCAST, params={"text": "新款到货"})
    step = CampaignStep(id=70, campaign_id=7, kind=SEND, seq=0, offset_s=0)
    fields = {f: None for f in MEMO_FIELDS}
    buyer = SimpleNamespace(id=1, display_name="张姐", tier_key=None, interests=[], **fields)
    default = messages.render(campaign, step, buyer)
    assert "新款到货" in default

    published.load(1, {"campaign_broadcast": (2, "【店铺通知】{{ name }}：{{ text }}")})
    assert messages.render(campaign, step, buyer) == "【店铺通知】张姐：新款到货"

    published.load(2, {"campaign_broadcast": (3, "{{ text.no_such_method() }}")})
    assert messages.render(campaign, step, buyer) == default
    assert [(f.name, f.version) for f in published.pending] == [("campaign_broadcast", 3)]
