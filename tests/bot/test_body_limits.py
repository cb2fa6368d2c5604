"""Body limits belong to routes: the webhook keeps 64 KiB, the operator API takes its bodies."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.config import ApiConfig
from bot.models import InboundMessage

AUTH = {"Authorization": "Bearer op-token"}
OPENID = "oLimits"


def order_rows(n: int) -> list[dict]:
    return [
        {
            "order_no": f"E2026051800{i:06d}",
            "account": f"tb_buyer_{i % 5000:05d}",
            "phone": f"138{i:08d}",
            "amount": "1,280.00",
            "created_at": "2026-05-18 12:30:00",
            "status": "交易成功",
        }
        for i in range(n)
    ]


async def test_the_api_takes_2000_order_rows_though_the_webhook_takes_64_kib(make_wechat):
    bot = await make_wechat(api={"token": "op-token"})
    body = {"rows": order_rows(2000), "recompute": False}
    assert len(json.dumps(body)) > 2 * 65536
    resp = await bot.http.post("/api/orders", json=body, headers=AUTH)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["inserted"] == 2000


async def test_the_default_api_limit_holds_the_documented_100000_rows():
    body = json.dumps({"rows": order_rows(100_000)}, ensure_ascii=False).encode()
    assert len(body) < ApiConfig().max_body_bytes


async def test_an_api_body_over_its_limit_gets_413(make_wechat):
    bot = await make_wechat(api={"token": "op-token", "max_body_bytes": 100_000})
    body = {"rows": order_rows(2000), "recompute": False}
    resp = await bot.http.post("/api/orders", json=body, headers=AUTH)
    assert resp.status == 413

    async def chunks():  # no Content-Length: cut at the limit while reading
        data = json.dumps(body).encode()
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]

    resp = await bot.http.post(
        "/api/orders", data=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 413


async def test_the_webhook_keeps_64_kib_while_the_api_takes_more(make_wechat):
    bot = await make_wechat(api={"token": "op-token"})
    params, body = bot.signer.text(OPENID, "长" * 30_000)  # ~90 KB of UTF-8
    assert 65536 < len(body) < ApiConfig().max_body_bytes
    status, _ = await bot.request(params, body)
    assert status == 413

    async def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    async with bot.http.post(bot.url, params=params, data=chunks()) as resp:
        assert resp.status == 413
    async with bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InboundMessage)) == 0
