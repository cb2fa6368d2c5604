"""The orders and tiers endpoints of the operator API, through the app factory."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from sqlalchemy import select

from bot.logs import setup_logging
from bot.models import Buyer

TIERS = {
    "levels": [
        {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000, "perks": ["满500减20"]},
        {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000, "perks": ["专属客服"]},
    ]
}
AUTH = {"Authorization": "Bearer op-token"}
CSV = (
    "订单编号,买家会员名,实付款,订单创建时间,订单状态\n"
    'T1,tb_a,"￥6,000.00",2026-05-01 10:00:00,交易成功\n'
    "T2,tb_a,abc,2026-05-01 10:00:00,交易成功\n"
)


@pytest.fixture
async def bot(make_wechat, fake_wechat):
    return await make_wechat(
        tiers=TIERS, api={"token": "op-token"}, wechat=fake_wechat.wechat_config()
    )


async def make_buyer(bot, openid: str, account: str) -> None:
    await bot.send_text(openid, "你好")  # the buyer exists once they wrote
    async with bot.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
        buyer.platform_account = account
        await session.commit()


async def tier_of(bot, openid: str) -> str | None:
    async with bot.sessionmaker() as session:
        return await session.scalar(select(Buyer.tier_key).where(Buyer.openid == openid))


async def test_csv_upload_imports_reports_bad_rows_and_recomputes(bot, fake_wechat):
    await make_buyer(bot, "oA", "tb_a")
    fake_wechat.open_window("oA")
    resp = await bot.http.post("/api/orders/csv", data=CSV.encode("gbk"), headers=AUTH)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert (body["inserted"], body["bad_count"]) == (1, 1)
    assert body["bad_rows"] == [{"line": 3, "reason": "paid amount 'abc' is not a number"}]
    assert body["tiers"]["upgrades"] == 1 and body["tiers"]["notices"] == {"custom": 1}
    assert await tier_of(bot, "oA") == "silver"
    assert "银卡会员" in fake_wechat.messages("oA")[-1]["content"]


async def test_csv_can_come_as_a_multipart_file_with_a_mapping(bot):
    form = aiohttp.FormData()
    form.add_field(
        "file",
        "单号,旺旺,实付款,下单时间\nM1,tb_m,10,2026-05-01 10:00\n".encode(),
        filename="orders.csv",
        content_type="text/csv",
    )
    resp = await bot.http.post(
        "/api/orders/csv?mapping=order_no=单号&mapping=account=旺旺", data=form, headers=AUTH
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["inserted"] == 1


async def test_a_csv_missing_a_column_is_a_400_naming_it(bot):
    resp = await bot.http.post(
        "/api/orders/csv", data="订单编号,实付款\n1,2\n".encode(), headers=AUTH
    )
    assert resp.status == 400
    assert "missing column(s): created_at" in (await resp.json())["error"]


async def test_json_rows_are_imported_idempotently(bot):
    rows = {
        "rows": [
            {
                "order_no": "J1",
                "account": "tb_j",
                "amount": "¥1,280.00",
                "created_at": "2026-05-01 10:00",
            }
        ]
    }
    first = await (await bot.http.post("/api/orders", json=rows, headers=AUTH)).json()
    again = await (await bot.http.post("/api/orders", json=rows, headers=AUTH)).json()
    assert (first["inserted"], again["inserted"], again["unchanged"]) == (1, 0, 1)


async def test_operator_sets_a_tier_and_the_change_is_listed(bot, fake_wechat):
    await make_buyer(bot, "oA", "tb_a")
    fake_wechat.open_window("oA")
    resp = await bot.http.put(
        "/api/buyers/oA/tier",
        headers=AUTH,
        json={"key": "gold", "reason": "展会大客户", "until": "2026-12-31T00:00:00+08:00"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["change"]["to"], body["change"]["notice"]) == ("gold", "custom")
    assert await tier_of(bot, "oA") == "gold"
    listed = await (await bot.http.get("/api/tier-changes?openid=oA", headers=AUTH)).json()
    [change] = listed["changes"]
    assert (change["openid"], change["from"], change["to"], change["reason"], change["note"]) == (
        "oA",
        None,
        "gold",
        "manual",
        "展会大客户",
    )


async def test_an_unknown_tier_key_is_a_400_naming_the_field(bot):
    await make_buyer(bot, "oA", "tb_a")
    resp = await bot.http.put(
        "/api/buyers/oA/tier", headers=AUTH, json={"key": "vip", "reason": "x"}
    )
    assert resp.status == 400
    assert (await resp.json())["error"].startswith("key: unknown tier 'vip'")


async def test_setting_the_tier_of_an_unknown_buyer_is_a_404(bot):
    resp = await bot.http.put(
        "/api/buyers/nobody/tier", headers=AUTH, json={"key": "gold", "reason": "x"}
    )
    assert resp.status == 404


# --- column mapping through the API ------------------------------------------------------

EXPORT_1688 = (
    "订单编号,买家公司名,旺旺名,订单状态,实付款(元),订单创建时间,联系手机\n"
    "A1,某公司,tb_z,交易成功,88.50,2026-05-01 10:00:00,13800138000\n"
)


async def test_common_export_headers_are_recognised_without_a_mapping(bot):
    taobao = (
        "订单编号,买家会员名,买家实际支付金额,订单状态,下单时间\nB1,tb_y,10,交易成功,2026-05-01\n"
    )
    for text in (
        EXPORT_1688,
        taobao,
        "订单号,旺旺名,实收金额,订单提交时间\nC1,tb_x,5,2026-05-01\n",
    ):
        resp = await bot.http.post("/api/orders/csv", data=text.encode(), headers=AUTH)
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["inserted"] == 1


async def test_mapping_as_multipart_fields_is_applied(bot):
    form = aiohttp.FormData()
    form.add_field("mapping", "order_no=单号")
    form.add_field(
        "file",
        "单号,客户,金额,时间\nM1,tb_m,10,2026-05-01 10:00\n".encode("gbk"),
        filename="orders.csv",
        content_type="text/csv",
    )
    # Fields after the file count too, and one field may hold several lines.
    form.add_field("mapping", "account=客户\namount=金额\ncreated_at=时间")
    form.add_field("encoding", "gbk")
    resp = await bot.http.post("/api/orders/csv", data=form, headers=AUTH)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["inserted"] == 1


async def test_a_bad_multipart_mapping_field_is_a_json_400(bot):
    form = aiohttp.FormData()
    form.add_field("mapping", "price=金额")
    form.add_field("file", b"x", filename="orders.csv", content_type="text/csv")
    resp = await bot.http.post("/api/orders/csv", data=form, headers=AUTH)
    assert resp.status == 400
    assert "field one of order_no" in (await resp.json())["error"]


async def test_a_missing_column_answer_does_not_point_an_api_caller_to_a_cli_flag(bot):
    resp = await bot.http.post("/api/orders/csv", data="单号,金额\n1,2\n".encode(), headers=AUTH)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert "mapping field=header" in error and "--" not in error


@pytest.fixture
def served_logging(caplog):
    """`laoke serve`'s logging setup, with the records also kept for the test."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging()
    root.addHandler(caplog.handler)
    yield caplog
    root.handlers[:], level = saved
    root.setLevel(level)


async def test_an_unencoded_chinese_mapping_is_one_log_line_not_a_traceback(bot, served_logging):
    caplog = served_logging
    body = EXPORT_1688.encode()
    reader, writer = await asyncio.open_connection(bot.http.server.host, bot.http.server.port)
    writer.write(
        "POST /api/orders/csv?mapping=account=旺旺名 HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Authorization: Bearer op-token\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    [record] = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "Invalid char in url query" in record.getMessage()
    # The same mapping, URL-encoded as every HTTP client does, is applied.
    resp = await bot.http.post(
        "/api/orders/csv", params={"mapping": "account=旺旺名"}, data=body, headers=AUTH
    )
    assert resp.status == 201, await resp.text()
