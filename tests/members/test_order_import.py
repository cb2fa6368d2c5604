"""Importing platform exports: encodings, Chinese headers, column mapping, amounts, bad rows,
and idempotent re-import (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import gc
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import OrdersConfig
from members.order_csv import OrderFileError, normalize_phone, parse_amount, parse_time
from members.order_import import import_csv
from members.orders import Order

NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")

TAOBAO = (
    "订单编号,买家会员名,买家应付货款,实付款,订单状态,订单创建时间,手机号\n"
    '="3312000001",小王的店,"1,300.00","￥1,280.00",交易成功,2026-05-01 09:30:00,13800138000\n'
    "3312000002,小李批发,500,￥480.5,交易关闭,2026/5/2 14:05,\n"
)


async def run(sessions, text: str | bytes, file_encoding: str = "utf-8", **kw):
    data = text.encode(file_encoding) if isinstance(text, str) else text
    config = kw.pop("config", OrdersConfig())
    return await import_csv(sessions, io.BytesIO(data), config, NOW, **kw)


async def stored(sessions) -> dict[str, Order]:
    async with sessions() as session:
        return {o.order_no: o for o in (await session.scalars(select(Order))).all()}


# --- values ------------------------------------------------------------------------------


def test_amounts_in_export_formats_become_exact_cents():
    assert parse_amount("¥1,280.00") == 128000
    assert parse_amount("￥480.5") == 48050
    assert parse_amount("1280") == 128000
    assert parse_amount(" 12,345.67元 ") == 1234567
    assert parse_amount("RMB 0.015") == 2  # rounded half up


@pytest.mark.parametrize("bad", ["", "abc", "-5", "1.2.3"])
def test_a_bad_amount_says_what_is_wrong(bad):
    with pytest.raises(ValueError, match="paid amount"):
        parse_amount(bad)


def test_export_times_are_read_as_local_time():
    expected = datetime(2026, 5, 2, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai
    for text in ("2026-05-02 14:05:00", "2026/5/2 14:05", "2026年5月2日 14:05"):
        assert parse_time(text, SHANGHAI) == expected
    assert parse_time("2026-05-02", SHANGHAI) == datetime(2026, 5, 1, 16, 0, tzinfo=UTC)


def test_masked_or_foreign_phones_are_not_used_for_matching():
    assert normalize_phone("+86 138-0013-8000") == "13800138000"
    assert normalize_phone("138****8000") is None
    assert normalize_phone("021-12345678") is None


# --- files -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
async def test_exports_in_utf8_utf8_bom_and_gbk_are_read(sessions, encoding):
    result = await run(sessions, TAOBAO, encoding)
    assert (result.rows, result.inserted, result.bad_count) == (2, 2, 0)
    orders = await stored(sessions)
    first = orders["3312000001"]  # the ="…" spreadsheet guard is stripped
    assert (first.account, first.phone, first.amount_cents, first.counted) == (
        "小王的店",
        "13800138000",
        128000,
        True,
    )
    assert first.ordered_at == datetime(2026, 5, 1, 1, 30, tzinfo=UTC)
    closed = orders["3312000002"]
    assert (closed.amount_cents, closed.status, closed.counted) == (48050, "交易关闭", False)


async def test_bad_rows_are_reported_by_line_and_the_good_rows_imported(sessions):
    text = (
        "订单编号,买家账号,实付金额,下单时间,订单状态\n"
        "A1,buyer1,100,2026-05-01 10:00,交易成功\n"
        ",buyer2,100,2026-05-01 10:00,交易成功\n"
        "A3,buyer3,免费,2026-05-01 10:00,交易成功\n"
        "A4,buyer4,100,昨天,交易成功\n"
        "A5,,100,2026-05-01 10:00,交易成功\n"
        "\n"
        "A6,buyer6,100,2026-05-01 10:00,交易成功\n"
    )
    result = await run(sessions, text)
    assert (result.rows, result.inserted) == (2, 2)
    assert [(b.line, b.reason) for b in result.bad_rows] == [
        (3, "order number is empty"),
        (4, "paid amount '免费' is not a number"),
        (5, "created time '昨天' is not a date and time"),
        (6, "neither a buyer account name nor a usable phone number"),
    ]
    assert set(await stored(sessions)) == {"A1", "A6"}


async def test_a_missing_column_stops_the_import_and_names_it(sessions):
    with pytest.raises(OrderFileError, match="missing column\\(s\\): amount"):
        await run(sessions, "订单编号,买家会员名,订单创建时间\nA1,b,2026-05-01\n")
    assert await stored(sessions) == {}


async def test_other_headers_are_read_through_the_column_mapping(sessions):
    text = "单号,客户,成交金额,时间,状态\nX1,老张,¥99.00,2026-05-01 10:00,已完成\n"
    mapping = {
        "order_no": "单号",
        "account": "客户",
        "amount": "成交金额",
        "created_at": "时间",
        "status": "状态",
    }
    result = await run(sessions, text, mapping=mapping)
    assert (result.inserted, result.bad_count) == (1, 0)
    assert (await stored(sessions))["X1"].amount_cents == 9900


async def test_the_mapping_can_come_from_the_configuration(sessions):
    text = "订单编号,旺旺名,实付款,下单时间\nX1,老张,10,2026-05-01 10:00\n"
    config = OrdersConfig(columns={"account": "旺旺名"})
    assert (await run(sessions, text, config=config)).inserted == 1


async def test_a_mapping_to_a_column_the_file_lacks_is_named(sessions):
    with pytest.raises(OrderFileError, match="'客户'"):
        await run(sessions, TAOBAO, mapping={"account": "客户"})


async def test_reimporting_the_same_file_changes_nothing(sessions):
    await run(sessions, TAOBAO)
    before = {k: (o.updated_at, o.last_import) for k, o in (await stored(sessions)).items()}
    again = await run(sessions, TAOBAO)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    after = {k: (o.updated_at, o.last_import) for k, o in (await stored(sessions)).items()}
    assert after == before


async def test_a_changed_status_updates_the_order(sessions):
    await run(sessions, TAOBAO)
    refunded = TAOBAO.replace("交易成功", "已退款")
    result = await run(sessions, refunded)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    order = (await stored(sessions))["3312000001"]
    assert (order.status, order.counted) == ("已退款", False)


async def test_an_undecodable_file_is_refused_with_a_hint(sessions):
    with pytest.raises(OrderFileError, match="encoding"):
        await run(sessions, TAOBAO.encode("gbk"), encoding="utf-8")


async def test_an_empty_file_is_refused(sessions):
    with pytest.raises(OrderFileError, match="empty"):
        await run(sessions, b"")


def big_export(rows: int, tail: bytes = b"") -> bytes:
    """An export of `rows` good orders (UTF-8), then `tail` (raw bytes) at the very end."""
    lines = ["订单编号,买家会员名,实付款,订单创建时间,订单状态"]
    lines += [
        f"N{i:07d},tb_{i % 5000},{i % 900 + 10}.50,2026-05-01 10:00:00,交易成功"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode() + tail


async def test_a_file_that_fails_to_decode_late_stores_nothing(sessions):
    # 60,000 good rows (more than one batch), then a byte that is not UTF-8 in the last row.
    data = big_export(60_000, tail="LAST,tb_x,1,2026-05-01 10:00,交易成功\n".encode("gbk"))
    with pytest.raises(OrderFileError, match=r"cannot decode the file as utf-8 after line \d+"):
        await run(sessions, data)
    assert await stored(sessions) == {}  # all or nothing: no batch was committed


async def test_a_file_with_a_broken_row_late_stores_nothing(sessions):
    data = big_export(30_000, tail=b"LAST," + b"x" * 200_000 + b",1,2026-05-01 10:00,ok\n")
    with pytest.raises(OrderFileError, match="line 30002: field larger than field limit"):
        await run(sessions, data, batch_rows=10_000)
    assert await stored(sessions) == {}


async def test_a_big_import_never_blocks_the_event_loop_for_long(sessions):
    """An import inside `serve` shares the loop with the webhook: the loop must keep turning
    (a webhook reply waits at most as long as the loop's longest stall)."""
    data = big_export(100_000)
    stalls: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            stalls.append(loop.time() - before - 0.005)

    gc.freeze()  # as `serve` does after start: what is built at start is never collected
    watcher = asyncio.create_task(watch())
    try:
        result = await run(sessions, data)
    finally:
        done.set()
        await watcher
        gc.unfreeze()
    assert result.inserted == 100_000
    assert len(stalls) > 20
    # One scheduling hiccup of a busy machine is tolerated; a loop held by the import is not.
    long = sorted(s for s in stalls if s > 0.25)
    assert len(long) <= 1 and max(stalls) < 0.5, f"the loop stalled: {long}"
