"""Console imports, on SQLite and PostgreSQL: uploads are kept and found by id, the dry run
classifies rows against the stored orders without writing, a background job records its
progress and counts, a job whose process died is marked failed, presets per platform."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.metrics import Metrics
from members.import_jobs import (
    DONE,
    FAILED,
    JOBS,
    RUNNING,
    ImportJob,
    job_history,
    presets,
    save_preset,
    start_import,
)
from members.order_uploads import (
    UploadError,
    clean_uploads,
    dry_run,
    find_upload,
    inspect_upload,
    store_upload,
)
from members.orders import Order

CSV = '订单编号,买家会员名,实付款,订单创建时间,订单状态\nB1,tb_a,100,2026-05-01 10:00,交易成功\nB2,tb_b,"￥2,000.50",2026-05-02 10:00,交易成功\nB3,,5,2026-05-03,交易成功\n'


async def _chunks(data: bytes):
    for i in range(0, len(data), 7):
        yield data[i : i + 7]


@pytest.fixture
def services(make_config, clock) -> Services:
    return Services(make_config(), Renderer(), None, clock, Metrics())  # type: ignore[arg-type]


async def test_uploads_are_bounded_found_by_id_and_expire(tmp_path):
    up = await store_upload(tmp_path, "../订单.csv", _chunks(b"a,b,c\n1,2,3\n"))
    assert up.filename == "订单.csv" and find_upload(tmp_path, up.upload_id).size == 12
    with pytest.raises(UploadError, match="超过"):
        await store_upload(tmp_path, "big.csv", _chunks(b"x" * 100), limit=50)
    assert len(list(tmp_path.glob("*.csv"))) == 1  # the oversized one is gone
    with pytest.raises(UploadError):
        find_upload(tmp_path, "../" + up.upload_id)
    old = time.time() - 2 * 3600
    for path in tmp_path.glob(up.upload_id + "*"):
        os.utime(path, (old, old))
    assert clean_uploads(tmp_path) == 2
    with pytest.raises(UploadError, match="过期"):
        find_upload(tmp_path, up.upload_id)


async def test_dry_run_writes_nothing_and_counts_new_updated_unchanged(
    sessions, services, tmp_path
):
    # B1 stored as is, B2 stored with another amount; B3 has no buyer at all (bad).
    config = services.config.orders
    first = await store_upload(tmp_path, "a.csv", _chunks(CSV.encode("gbk")))
    seen = await inspect_upload(first, config)
    assert seen.encoding_label == "GBK" and seen.rows == 3 and not seen.missing
    assert seen.mapping["amount"] == "实付款"
    async with sessions() as session:
        preview = await dry_run(session, first, seen.encoding, seen.mapping, config)
        assert (preview.new, preview.updated, preview.unchanged, preview.bad) == (2, 0, 0, 1)
        assert preview.bad_rows[0][0] == 4
        assert await session.scalar(select(func.count()).select_from(Order)) == 0

    app = web.Application()
    app[JOBS] = set()
    job = await start_import(app, sessions, services, first, encoding=seen.encoding,
                             mapping=seen.mapping, total_rows=3, actor="op")  # fmt: skip
    assert job.status == RUNNING
    await asyncio.gather(*app[JOBS])
    async with sessions() as session:
        done = await session.get(ImportJob, job.id)
        assert done.status == DONE and done.done_rows == 2 and done.percent == 100
        assert done.result["inserted"] == 2 and done.result["unmatched"] == 2

    changed = CSV.replace("￥2,000.50", "￥2,100.50")
    second = await store_upload(tmp_path, "b.csv", _chunks(changed.encode("utf-8-sig")))
    seen2 = await inspect_upload(second, config)
    assert seen2.encoding_label == "UTF-8 BOM"
    async with sessions() as session:
        preview = await dry_run(session, second, seen2.encoding, seen2.mapping, config)
    assert (preview.new, preview.updated, preview.unchanged) == (0, 1, 1)
    assert preview.updated_lines == [3]


async def test_a_job_whose_process_died_is_marked_failed(sessions, clock):
    async with sessions() as session, session.begin():
        session.add(ImportJob(upload_id="x", filename="a.csv", actor="op", status=RUNNING,
                              total_rows=10, done_rows=4, created_at=clock.now(),
                              heartbeat_at=clock.now()))  # fmt: skip
    async with sessions() as session:
        assert (await job_history(session, clock.now()))[0].status == RUNNING  # still alive
        later = clock.now() + timedelta(minutes=6)
        job = (await job_history(session, later))[0]
    assert job.status == FAILED and "中断" in job.error


async def test_presets_are_one_per_platform(sessions, clock):
    async with sessions() as session, session.begin():
        await save_preset(session, "1688", {"amount": "金额"}, clock.now())
    async with sessions() as session, session.begin():
        await save_preset(session, "1688", {"amount": "实收"}, clock.now())
        with pytest.raises(ValueError):
            await save_preset(session, "ebay", {}, clock.now())
    async with sessions() as session:
        assert await presets(session) == {"1688": {"amount": "实收"}}


def test_bad_row_reasons_are_shown_in_chinese():
    from members.order_uploads import reason_zh

    assert reason_zh("paid amount 'abc' is not a number") == "实付金额 'abc' 不是数字"
    assert reason_zh("neither a buyer account name nor a usable phone number").startswith("没有")
    assert reason_zh("something new") == "something new"


async def test_progress_is_reported_after_each_committed_batch(
    sessions, services, tmp_path, monkeypatch
):
    from members import order_import
    from members.order_import import import_csv

    monkeypatch.setattr(order_import, "PARSE_ROWS", 2)

    lines = ["订单编号,买家会员名,实付款,订单创建时间"] + [
        f"P{i},tb_{i},10,2026-05-01 10:00" for i in range(7)
    ]
    seen: list[int] = []

    async def progress(done: int) -> None:
        async with sessions() as session:  # what another process would read: committed rows
            stored = await session.scalar(select(func.count()).select_from(Order))
        seen.append(done)
        assert stored == done

    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with path.open("rb") as raw:
        result = await import_csv(sessions, raw, services.config.orders,
                                  services.clock.now(), batch_rows=3, progress=progress)  # fmt: skip
    assert result.inserted == 7 and seen[-1] == 7 and len(seen) >= 2
