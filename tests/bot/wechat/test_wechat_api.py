"""The WeChat API client against the fake WeChat, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bot.metrics import Metrics
from bot.wechat.client import WeChatAPI, WeChatAPIError, WeChatAPITimeout

BUYER = "o_buyer_1"


@pytest.fixture
def new_client(fake_wechat, sessions, clock, make_config, http):
    """Build a client (several share one database, like several processes)."""

    def build(**wechat) -> WeChatAPI:
        config = make_config(
            wechat={"api_base_url": fake_wechat.url, "busy_backoff_s": 0.0, **wechat}
        )
        return WeChatAPI(config.wechat, sessions, clock, http, Metrics())

    return build


def errors_counted(api: WeChatAPI, code: str) -> float:
    return (
        api.metrics.registry.get_sample_value("laoke_wechat_api_errors_total", {"code": code})
        or 0.0
    )


async def test_send_text_reaches_the_buyer_inside_the_window(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client()
    assert (await api.send_text(BUYER, "您好"))["errcode"] == 0
    [sent] = fake_wechat.messages(BUYER)
    assert (sent["kind"], sent["content"]) == ("custom", "您好")


async def test_send_template_posts_data_and_link(new_client, fake_wechat):
    api = new_client()
    result = await api.send_template(
        BUYER, "TPL1", {"thing1": "金卡", "time2": {"value": "2026-05-18"}}, url="https://x.test/"
    )
    assert result["msgid"]
    [sent] = fake_wechat.messages(BUYER)
    assert sent["template_id"] == "TPL1"
    assert sent["data"] == {"thing1": {"value": "金卡"}, "time2": {"value": "2026-05-18"}}
    assert sent["url"] == "https://x.test/"


async def test_token_is_fetched_once_and_shared_by_clients_on_one_database(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    first, second = new_client(), new_client()
    await first.send_text(BUYER, "1")
    await second.send_text(BUYER, "2")
    assert await first.get_access_token() == await second.get_access_token()
    assert fake_wechat.token_fetches == 1


async def test_concurrent_clients_with_no_token_do_not_both_fetch(new_client, fake_wechat):
    clients = [new_client(), new_client()]
    tokens = await asyncio.gather(*(c.get_access_token() for c in clients for _ in range(5)))
    assert len(set(tokens)) == 1
    assert fake_wechat.token_fetches == 1


async def test_token_is_refreshed_before_it_expires(new_client, fake_wechat, clock):
    api = new_client(token_refresh_margin_s=300)
    old = await api.get_access_token()
    clock.advance(seconds=7200 - 299)
    assert await api.get_access_token() != old
    assert fake_wechat.token_fetches == 2


async def test_expired_token_is_refetched_and_the_call_retried_once(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client()
    await api.get_access_token()
    fake_wechat.inject(expire_tokens=True)
    await api.send_text(BUYER, "still arrives")
    assert fake_wechat.token_fetches == 2
    assert [m["content"] for m in fake_wechat.messages(BUYER)] == ["still arrives"]
    assert errors_counted(api, "42001") == 1


async def test_token_rejected_again_after_refresh_is_raised_not_looped(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client()
    await api.get_access_token()
    fake_wechat.inject(40001, count=3)
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(BUYER, "x")
    assert err.value.errcode == 40001
    assert fake_wechat.token_fetches == 2


async def test_refresh_by_one_client_is_picked_up_by_the_other(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    first, second = new_client(), new_client()
    await first.get_access_token()
    await second.get_access_token()
    fake_wechat.inject(expire_tokens=True)
    await first.send_text(BUYER, "a")
    await second.send_text(BUYER, "b")  # its memory token is rejected; the table has the new one
    assert fake_wechat.token_fetches == 2


async def test_busy_answers_are_retried(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client(busy_retries=3)
    await api.get_access_token()
    fake_wechat.inject(-1, count=1)
    fake_wechat.inject(45009, count=2)
    await api.send_text(BUYER, "after backoff")
    assert len(fake_wechat.messages(BUYER)) == 1
    assert errors_counted(api, "-1") == 1 and errors_counted(api, "45009") == 2


async def test_busy_beyond_the_retry_budget_is_raised(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client(busy_retries=2)
    await api.get_access_token()
    fake_wechat.inject(45009, count=3)
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(BUYER, "x")
    assert err.value.errcode == 45009
    assert fake_wechat.messages(BUYER) == []


async def test_outside_the_window_raises_45015_without_retry(new_client, fake_wechat, clock):
    fake_wechat.open_window(BUYER)
    clock.advance(hours=48, seconds=1)
    api = new_client()
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(BUYER, "x")
    assert err.value.errcode == 45015
    assert errors_counted(api, "45015") == 1


async def test_sixth_message_in_a_window_raises_45047(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client()
    for i in range(5):
        await api.send_text(BUYER, str(i))
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(BUYER, "6")
    assert err.value.errcode == 45047


async def test_dropped_connection_raises_a_retryable_timeout(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client()
    await api.get_access_token()
    fake_wechat.inject(drop=1)
    with pytest.raises(WeChatAPITimeout):
        await api.send_text(BUYER, "x")
    await api.send_text(BUYER, "retried")
    assert errors_counted(api, "network") == 1


async def test_slow_answer_beyond_the_timeout_raises_timeout(new_client, fake_wechat):
    fake_wechat.open_window(BUYER)
    api = new_client(timeout_s=0.1)
    await api.get_access_token()
    fake_wechat.inject(latency_ms=400)
    with pytest.raises(WeChatAPITimeout):
        await api.send_text(BUYER, "x")


async def test_unreachable_api_raises_timeout(make_config, sessions, clock, http):
    config = make_config(wechat={"api_base_url": "http://127.0.0.1:9/"})
    api = WeChatAPI(config.wechat, sessions, clock, http)
    with pytest.raises(WeChatAPITimeout):
        await api.send_text(BUYER, "x")


async def test_wrong_secret_is_raised_with_its_errcode(new_client, fake_wechat):
    api = new_client(secret="wrong")
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(BUYER, "x")
    assert err.value.errcode == 40125


async def test_busy_token_endpoint_is_retried(new_client, fake_wechat):
    api = new_client(busy_retries=2)
    fake_wechat.inject(-1, count=2, on="token")
    assert await api.get_access_token()
    assert fake_wechat.token_fetches == 1
