"""订单 import wizard over HTTP: upload → mapping → dry run → confirm → job; bad uploads are
refused with a clear message, nothing is written before 确认导入, viewers cannot import."""

from __future__ import annotations

import asyncio
import re

import aiohttp
from sqlalchemy import func, select

from bot.models import Buyer
from console.audit import AuditEntry
from members.import_jobs import DONE, ImportJob, MappingPreset
from members.orders import Order

# A GBK export whose headers Laoke does not recognise by name.
HEADER = "单号,客户,金额合计,成交日期,状态"
ROWS = [
    'A-1001,tb_zhang,"1,280.00",2026/5/10 9:30,交易成功',
    "A-1002,tb_li,300,2026/5/11 10:00,交易关闭",
    "A-1003,tb_zhang,abc,2026/5/12 11:00,交易成功",
]
GBK_FILE = ("\n".join([HEADER, *ROWS]) + "\n").encode("gbk")
MAPPING = {"m_order_no": "单号", "m_account": "客户", "m_amount": "金额合计",
           "m_created_at": "成交日期", "m_status": "状态", "m_phone": ""}  # fmt: skip


def _upload_form(body: bytes, filename: str = "export.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("platform", "1688")
    form.add_field("file", body, filename=filename, content_type="text/csv")
    return form


async def _upload(console, headers, body: bytes = GBK_FILE) -> str:
    resp = await console.client.post(
        "/admin/orders/upload", data=_upload_form(body), headers=headers, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    location = resp.headers["Location"]
    return re.search(r"upload=([0-9a-f]{32})", location).group(1)


async def _count(console, model) -> int:
    async with console.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _wait_job(console, job_id: int) -> ImportJob:
    for _ in range(200):
        async with console.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
        if job.status != "running":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the import job did not finish")


async def test_gbk_upload_shows_encoding_headers_and_asks_for_the_unknown_columns(console):
    headers = await console.login_as("operator")
    upload_id = await _upload(console, headers)
    resp = await console.client.get(f"/admin/orders/map?upload={upload_id}", headers=headers)
    html = await resp.text()
    assert resp.status == 200
    assert 'data-testid="encoding">GBK<' in html
    assert "<strong>3</strong> 行数据" in html
    assert "<code>金额合计</code>" in html
    assert "未对应" in html  # nothing recognised: step ② asks for every column


async def test_mapping_dry_run_then_confirm_imports_and_reimport_is_unchanged(console):
    headers = await console.login_as("operator")
    async with console.sessionmaker() as session, session.begin():
        session.add(Buyer(openid="o-zhang", first_seen_at=console.clock.now(),
                          platform_account="tb_zhang"))  # fmt: skip
    upload_id = await _upload(console, headers)
    query = {"upload": upload_id, "platform": "1688", **MAPPING}
    resp = await console.client.get("/admin/orders/map", params=query, headers=headers)
    html = await resp.text()
    assert "¥1,280.00" in html and "2026-05-10 09:30" in html and "不计入" in html

    resp = await console.client.get("/admin/orders/check", params=query, headers=headers)
    html = await resp.text()
    assert resp.status == 200
    assert 'data-testid="new">2<' in html and 'data-testid="bad">1<' in html
    assert 'data-testid="matched">1<' in html and 'data-testid="unmatched">1<' in html
    assert await _count(console, Order) == 0  # the dry run wrote nothing

    csv_resp = await console.client.get("/admin/orders/check.csv", params=query, headers=headers)
    body = (await csv_resp.read()).decode("utf-8-sig")
    assert body.splitlines()[0] == "行号,原因" and body.splitlines()[1].startswith("4,")

    resp = await console.client.post("/admin/orders/confirm", data=query, headers=headers,
                                     allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    job_id = int(resp.headers["Location"].rsplit("=", 1)[1])
    job = await _wait_job(console, job_id)
    assert job.status == DONE, job.error
    assert job.result["inserted"] == 2 and job.result["bad"] == 1
    assert job.result["unmatched"] == 1
    assert await _count(console, Order) == 2
    async with console.sessionmaker() as session:
        preset = await session.scalar(select(MappingPreset))
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert preset.platform == "1688" and preset.mapping["amount"] == "金额合计"
    assert "orders.import" in actions

    page = await (
        await console.client.get(f"/admin/orders/job?id={job_id}", headers=headers)
    ).text()
    assert "导入完成：新增 2" in page
    # The same file again: the remembered 1688 mapping applies, and every good row is unchanged.
    again = await _upload(console, headers)
    html = await (await console.client.get(
        f"/admin/orders/check?upload={again}&platform=1688", headers=headers)).text()  # fmt: skip
    assert 'data-testid="unchanged">2<' in html and 'data-testid="new">0<' in html


async def test_bad_uploads_get_a_clear_error_and_write_nothing(console):
    headers = await console.login_as("operator")
    resp = await console.client.post("/admin/orders/upload", data=_upload_form(b""),
                                     headers=headers)  # fmt: skip
    assert resp.status == 400 and "文件是空的" in await resp.text()
    resp = await console.client.post("/admin/orders/upload", data={"platform": "1688"},
                                     headers=headers)  # fmt: skip
    assert resp.status == 400 and "请选择" in await resp.text()
    binary = bytes(range(256)) * 10
    upload_id = await _upload(console, headers, binary)
    resp = await console.client.get(f"/admin/orders/map?upload={upload_id}", headers=headers)
    assert resp.status == 400 and "表头" in await resp.text()
    resp = await console.client.get("/admin/orders/map?upload=../../etc/passwd", headers=headers)
    assert resp.status == 400 and "重新上传" in await resp.text()
    resp = await console.client.get("/admin/orders/check?upload=" + "0" * 32, headers=headers)
    assert resp.status == 400 and "过期" in await resp.text()
    # Unmapped required columns: the dry run refuses, naming them.
    good = await _upload(console, headers)
    resp = await console.client.get(f"/admin/orders/check?upload={good}", headers=headers)
    assert resp.status == 400 and "订单编号" in await resp.text()
    resp = await console.client.post("/admin/orders/confirm", data={"upload": good},
                                     headers=headers)  # fmt: skip
    assert resp.status == 400
    assert await _count(console, Order) == 0 and await _count(console, ImportJob) == 0


async def test_a_viewer_sees_orders_but_cannot_upload_or_import(console):
    viewer = await console.login_as("viewer")
    page = await (await console.client.get("/admin/orders", headers=viewer)).text()
    assert "订单列表" in page and "上传并识别" not in page
    resp = await console.client.post("/admin/orders/upload", data=_upload_form(GBK_FILE),
                                     headers=viewer)  # fmt: skip
    assert resp.status == 403
    resp = await console.client.post("/admin/orders/confirm", data=MAPPING, headers=viewer)
    assert resp.status == 403
    assert await _count(console, ImportJob) == 0


async def test_a_running_job_page_polls_every_two_seconds_and_renders_alone_for_htmx(console):
    viewer = await console.login_as("viewer")
    async with console.sessionmaker() as session, session.begin():
        job = ImportJob(upload_id="u", filename="big.csv", actor="op", status="running",
                        total_rows=1000, done_rows=250, created_at=console.clock.now(),
                        heartbeat_at=console.clock.now())  # fmt: skip
        session.add(job)
    full = await (await console.client.get(f"/admin/orders/job?id={job.id}", headers=viewer)).text()
    assert 'hx-trigger="every 2s"' in full and "<html" in full and "250 / 1,000" in full
    part = await console.client.get(
        f"/admin/orders/job?id={job.id}", headers=viewer | {"HX-Request": "true"}
    )
    text = await part.text()
    assert "<html" not in text and 'value="25"' in text
    assert (await console.client.get("/admin/orders/job?id=x", headers=viewer)).status == 404


async def test_a_job_left_running_by_a_dead_process_is_failed_at_the_next_start(
    aiohttp_client, make_config, clock, sqlite_url
):
    from datetime import timedelta

    from bot.database import create_engine, sessionmaker
    from laoke.app import create_app

    engine = create_engine(sqlite_url)
    async with sessionmaker(engine)() as session, session.begin():
        dead = clock.now() - timedelta(minutes=10)
        session.add(ImportJob(upload_id="u", filename="crash.csv", actor="op", status="running",
                              total_rows=10, done_rows=3, created_at=dead, heartbeat_at=dead))  # fmt: skip
    await engine.dispose()
    app = create_app(make_config(), clock=clock)
    await aiohttp_client(app)
    engine = create_engine(sqlite_url)
    async with sessionmaker(engine)() as session:
        job = await session.scalar(select(ImportJob))
    await engine.dispose()
    assert job.status == "failed" and "中断" in job.error
