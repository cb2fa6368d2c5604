"""The audit log: entries outlive their actor, filters, and a CSV Excel/WPS open safely."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import delete

from console import audit
from console.accounts import create_user
from console.models import User


async def test_entry_keeps_the_actors_name_after_the_account_is_deleted(sessions, clock):
    async with sessions() as session, session.begin():
        amy = await create_user(session, "amy", "admin", "river-lamp-71", clock.now())
        audit.record(
            session, audit.Actor(amy.id, amy.name, "10.0.0.1"), "user.role", ("user", 7),
            {"role": "viewer"}, {"role": "operator"}, at=clock.now(),
        )  # fmt: skip
    async with sessions() as session, session.begin():
        await session.execute(delete(User).where(User.id == amy.id))
    async with sessions() as session:
        [entry] = await audit.find_entries(session, audit.AuditFilter())
    assert (entry.actor_id, entry.actor_name, entry.address) == (amy.id, "amy", "10.0.0.1")
    assert (entry.before, entry.after) == ({"role": "viewer"}, {"role": "operator"})


async def test_filters_by_actor_object_action_and_date(sessions, clock):
    async with sessions() as session, session.begin():
        for actor, action, obj in (("amy", "user.role", ("user", 1)),
                                   ("bob", "token.create", ("api_token", 2)),
                                   ("amy", "user.disable", ("user", 3))):  # fmt: skip
            audit.record(session, audit.Actor(None, actor), action, obj, None, None, at=clock.now())
            clock.advance(days=1)
    async with sessions() as session:

        async def names(**f):
            found = await audit.find_entries(session, audit.AuditFilter(**f))
            return [e.action for e in found]

        assert await names(actor="amy") == ["user.disable", "user.role"]
        assert await names(object_type="api_token") == ["token.create"]
        assert await names(object_type="user", object_id="3") == ["user.disable"]
        assert await names(action="user.") == ["user.disable", "user.role"]
        start = clock.now() - timedelta(days=1, hours=1)
        assert await names(since=start) == ["user.disable"]


def test_csv_has_a_bom_and_neutralises_formulas(clock):
    entry = audit.AuditEntry(
        id=1, at=clock.now(), actor_id=None, actor_name="=HYPERLINK(\"x\")", address="@evil",
        action="+cmd", object_type="-1", object_id=None, before=None, after={"名称": "金卡"},
    )  # fmt: skip
    data = audit.entries_csv([entry])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][1] == "操作人"
    assert rows[1][1] == '\'=HYPERLINK("x")'
    assert rows[1][3] == "'@evil" and rows[1][4] == "'+cmd" and rows[1][5] == "'-1"
    assert "金卡" in rows[1][8]


async def test_console_changes_are_audited_and_admins_export_them(console):
    admin = await console.login_as("admin", name="boss")
    resp = await console.client.post(
        "/admin/settings/members",
        headers=admin,
        data={
            "name": "newbie",
            "role": "operator",
            "password": "",
            "my_password": "correct-horse-9",
        },
    )
    assert resp.status == 200
    assert "只显示这一次" in await resp.text()
    resp = await console.client.get("/admin/settings/audit.csv?actor=boss", headers=admin)
    assert resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    [created] = [r for r in rows[1:] if r[4] == "user.create"]
    assert created[1] == "boss" and '"role": "operator"' in created[8]
    page = await (
        await console.client.get("/admin/settings/audit?action=user.", headers=admin)
    ).text()
    assert "user.create" in page and "newbie" in page
