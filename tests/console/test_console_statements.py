"""对账与返点 over HTTP: viewers read and export, operators close the period and mark payouts
(once), admins edit the rebate ladder with a preview on last period's data; all audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
from sqlalchemy import select
from statement_world import add_buyer, add_order

from console.audit import AuditEntry
from statements.ladder import Ladder, Step, save_ladder
from statements.models import RebateLadder, Statement

NOW = datetime(2026, 12, 5, 4, tzinfo=UTC)
IN_NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


async def november(console) -> tuple[int, int]:
    console.clock.set(NOW)
    sm = console.sessionmaker
    async with sm() as session, session.begin():
        ladder = Ladder(None, "spend", (Step(100, min_cents=1_000_000),))
        await save_ladder(session, ladder, "管理员", IN_NOV)
    big = await add_buyer(sm, "oBig", display_name="王姐", company="王姐服饰", subscribed=False)
    small = await add_buyer(sm, "oSmall", display_name="小李", subscribed=False)
    await add_order(sm, "B1", big, 2_345_678, IN_NOV)
    await add_order(sm, "B2", big, 100_000, IN_NOV, status="退款成功", counted=False)
    await add_order(sm, "S1", small, 9_900, IN_NOV)
    return big, small


async def test_an_operator_closes_the_period_and_a_viewer_reads_and_exports_it(console):
    big, _ = await november(console)
    viewer = await console.login_as("viewer")
    operator = await console.login_as("operator")
    html = await (await console.client.get("/admin/statements", headers=viewer)).text()
    assert "2026年12月（进行中，未结账）" in html and "结账 2026年11月" not in html
    resp = await console.client.post("/admin/statements/close", data={"period": "2026-11"},
                                     headers=viewer, allow_redirects=False)  # fmt: skip
    assert resp.status == 403

    html = await (await console.client.get("/admin/statements", headers=operator)).text()
    assert "结账 2026年11月" in html
    resp = await console.client.post("/admin/statements/close", data={"period": "2026-11"},
                                     headers=operator, allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"].endswith("/2026-11?done=closed")
    resp = await console.client.post("/admin/statements/close", data={"period": "2026-12"},
                                     headers=operator)  # fmt: skip
    assert resp.status == 400 and "还没有结束" in await resp.text()
    again = await console.client.post("/admin/statements/close", data={"period": "2026-11"},
                                      headers=operator, allow_redirects=False)  # fmt: skip
    assert again.headers["Location"].endswith("?done=already")
    async with console.sessionmaker() as session:
        entries = list(await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "statements.close")
        ))  # fmt: skip
    assert len(entries) == 1 and entries[0].after["statements"] == 2

    html = await (await console.client.get("/admin/statements/2026-11", headers=viewer)).text()
    assert "王姐" in html and "¥23,456.78" in html and "¥234.57" in html
    assert "标记已付" not in html  # a viewer does not act
    detail = await console.client.get(f"/admin/statements/2026-11/buyer/{big}", headers=viewer)
    assert "B2" in await detail.text() and "退款" in await detail.text()

    sheet = await console.client.get("/admin/statements/2026-11/export.xlsx", headers=viewer)
    book = openpyxl.load_workbook(io.BytesIO(await sheet.read()))
    rows = list(book["对账单"].iter_rows(values_only=True))
    assert rows[1][:4] == ("买家编号", "买家", "公司", "单数")
    assert rows[2][1] == "王姐" and str(rows[2][7]) == "23456.78" and str(rows[2][10]) == "234.57"
    assert rows[-1][0] == "合计" and str(rows[-1][7]) == "23555.78"
    assert len(list(book["明细"].iter_rows())) == 1 + 4  # B1, B2, B2's refund, S1
    text = (await (await console.client.get(
        "/admin/statements/2026-11/export.csv", headers=viewer)).read()).decode("utf-8-sig")  # fmt: skip
    table = list(csv.reader(io.StringIO(text)))
    assert table[1][1] == "王姐" and table[1][5] == "-1000.00" and table[1][7] == "23456.78"


async def test_a_rebate_is_marked_paid_once_with_method_note_and_who(console):
    big, _ = await november(console)
    operator = await console.login_as("operator", name="王会计")
    await console.client.post("/admin/statements/close", data={"period": "2026-11"},
                              headers=operator)  # fmt: skip
    async with console.sessionmaker() as session:
        statement_id = await session.scalar(select(Statement.id).where(Statement.buyer_id == big))
    form = {"statement_id": str(statement_id), "method": "转账", "note": "工行 0099"}
    resp = await console.client.post("/admin/statements/2026-11/pay", data=form, headers=operator,
                                     allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    html = await (await console.client.get("/admin/statements/2026-11", headers=operator)).text()
    assert "已付 · 转账 · 王会计 · 2026-12-05" in html
    twice = await console.client.post("/admin/statements/2026-11/pay", data=form, headers=operator)
    assert twice.status == 400 and "不会重复付款" in await twice.text()
    bad = await console.client.post("/admin/statements/2026-11/pay",
                                    data=form | {"method": "比特币"}, headers=operator)  # fmt: skip
    assert bad.status == 400 and "付款方式" in await bad.text()
    async with console.sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "statements.pay")
        )
    assert entry.after == {"amount_cents": 23_457, "method": "转账", "note": "工行 0099"}


async def test_an_admin_previews_the_ladder_on_last_period_and_saves_a_new_version(console):
    await november(console)
    admin = await console.login_as("admin")
    operator = await console.login_as("operator")
    await console.client.post("/admin/statements/close", data={"period": "2026-11"}, headers=admin)
    assert (await console.client.get("/admin/statements/ladder", headers=operator)).status == 403
    params = [("basis", "spend"), ("where", "50"), ("percent", "1"), ("where", "1万"),
              ("percent", "2.5")]  # fmt: skip
    resp = await console.client.get("/admin/statements/ladder", params=params, headers=admin)
    html = await resp.text()
    # 2.5% of ¥23,456.78 and 1% of ¥99: what the edit would pay on November's statements.
    assert "按上期（2026-11）数据预计返 ¥587.41 给 2 位买家" in html
    assert "上期实际返 ¥234.57 给 1 位" in html
    async with console.sessionmaker() as session:
        assert len(list(await session.scalars(select(RebateLadder)))) == 1  # nothing saved

    bad = await console.client.get("/admin/statements/ladder", headers=admin,
                                   params=[("basis", "spend"), ("where", "1万"), ("percent", "80")])  # fmt: skip
    assert bad.status == 400 and "第 1 行" in await bad.text()
    resp = await console.client.post("/admin/statements/ladder", data=params, headers=admin,
                                     allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    async with console.sessionmaker() as session:
        latest = await session.get(RebateLadder, 2)
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "statements.ladder")
        )
    assert latest.steps == [{"min_cents": 5000, "bp": 100}, {"min_cents": 1_000_000, "bp": 250}]
    assert entry.before["version"] == 1 and entry.after["version"] == 2
    html = await (await console.client.get("/admin/statements", headers=admin)).text()
    assert "满 ¥10,000 返 2.5%" in html and "第 2 版" in html
