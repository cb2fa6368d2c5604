"""设置 → 成员与角色 and API 令牌 pages: rights-granting changes re-ask the admin's password,
each change is audited with before and after, and tokens belong to their owner."""

from __future__ import annotations

from sqlalchemy import select

from console.models import ApiToken, AuditEntry, User
from console.tokens import create_token

MINE = "correct-horse-9"  # the password conftest gives every account


async def _user(console, name):
    async with console.sessionmaker() as session:
        return await session.scalar(select(User).where(User.name == name))


async def test_role_change_needs_the_admins_password_and_is_audited(console):
    admin = await console.login_as("admin", name="boss")
    amy = await console.add_user("amy", "viewer")
    path = f"/admin/settings/members/{amy.id}/role"
    resp = await console.client.post(
        path, headers=admin, data={"role": "operator", "my_password": "guess"}
    )
    assert resp.status == 400
    assert "密码不正确" in await resp.text()
    assert (await _user(console, "amy")).role == "viewer"
    resp = await console.client.post(
        path, headers=admin, data={"role": "operator", "my_password": MINE}, allow_redirects=False
    )
    assert resp.status == 303
    assert (await _user(console, "amy")).role == "operator"
    async with console.sessionmaker() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert entry.actor_name == "boss" and entry.object_id == str(amy.id)
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "operator")


async def test_admin_adds_with_a_typed_password_and_disables_a_member(console):
    admin = await console.login_as("admin", name="boss")
    resp = await console.client.post(
        "/admin/settings/members", headers=admin,
        data={"name": "amy", "role": "operator", "password": "violet-kettle-38",
              "my_password": MINE},
    )  # fmt: skip
    page = await resp.text()
    assert resp.status == 200 and "已添加成员" in page and "violet-kettle-38" not in page
    amy = await _user(console, "amy")
    resp = await console.client.post(
        f"/admin/settings/members/{amy.id}/disable", headers=admin, allow_redirects=False
    )
    assert resp.status == 303 and (await _user(console, "amy")).disabled
    resp = await console.client.post(
        "/admin/settings/members", headers=admin,
        data={"name": "amy", "role": "viewer", "my_password": MINE},
    )  # fmt: skip
    assert resp.status == 400 and "已存在" in await resp.text()


async def test_operators_see_and_revoke_only_their_own_tokens(console):
    amy_headers = await console.login_as("operator", name="amy")
    bob = await console.add_user("bob", "operator")
    async with console.sessionmaker() as session, session.begin():
        bobs, _ = await create_token(session, bob, "bob-token", "read", None, console.clock.now())
    page = await (await console.client.get("/admin/settings/tokens", headers=amy_headers)).text()
    assert "bob-token" not in page
    resp = await console.client.post(
        f"/admin/settings/tokens/{bobs.id}/revoke", headers=amy_headers,
        data={"confirm": "bob-token"},
    )  # fmt: skip
    assert resp.status == 404
    admin = await console.login_as("admin", name="boss")
    assert (
        "bob-token"
        in await (await console.client.get("/admin/settings/tokens", headers=admin)).text()
    )
    resp = await console.client.post(
        f"/admin/settings/tokens/{bobs.id}/revoke", headers=admin,
        data={"confirm": "bob-token"}, allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    async with console.sessionmaker() as session:
        assert (await session.get(ApiToken, bobs.id)).revoked_at is not None


async def test_new_token_needs_the_password_and_is_shown_once(console):
    amy = await console.login_as("operator", name="amy")
    data = {"name": "ERP", "scope": "write", "expiry": "30", "my_password": "guess"}
    resp = await console.client.post("/admin/settings/tokens", headers=amy, data=data)
    assert resp.status == 400
    resp = await console.client.post(
        "/admin/settings/tokens", headers=amy, data=data | {"my_password": MINE}
    )
    page = await resp.text()
    assert resp.status == 200 and "只显示这一次" in page and 'id="new-token">lk_' in page
    assert resp.headers["Cache-Control"] == "no-store"
    again = await (await console.client.get("/admin/settings/tokens", headers=amy)).text()
    assert "lk_" in again and 'id="new-token"' not in again  # the prefix only


async def test_the_members_page_refuses_a_common_or_guessable_password(console):
    admin = await console.login_as("admin", name="boss")
    for weak, reason in (("12345678", "密码太常见"), ("password1", "密码太常见"),
                         ("wangfang1", "不能包含用户名")):  # fmt: skip
        resp = await console.client.post(
            "/admin/settings/members", headers=admin,
            data={"name": "wangfang", "role": "viewer", "password": weak, "my_password": MINE},
        )  # fmt: skip
        assert resp.status == 400 and reason in await resp.text()
    assert await _user(console, "wangfang") is None


SEGMENT = {"name": "近30天互动",
           "spec": {"all": [{"field": "days_since_interaction", "op": "lt", "value": 30}]}}  # fmt: skip


async def _write_token(console, owner):
    async with console.sessionmaker() as session, session.begin():
        user = await session.get(User, owner.id)
        _row, secret = await create_token(session, user, "脚本", "write", 30, console.clock.now())
    return {"Authorization": f"Bearer {secret}"}


async def test_demoting_a_tokens_owner_to_viewer_narrows_the_token_at_once_and_audits_it(console):
    admin = await console.login_as("admin", name="boss")
    amy = await console.add_user("amy", "operator")
    bearer = await _write_token(console, amy)
    assert (await console.client.post("/api/segments", json=SEGMENT, headers=bearer)).status == 201
    resp = await console.client.post(
        f"/admin/settings/members/{amy.id}/role", headers=admin,
        data={"role": "viewer", "my_password": MINE}, allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    resp = await console.client.post("/api/segments", json=SEGMENT | {"name": "b"}, headers=bearer)
    assert resp.status == 403
    assert (await console.client.get("/api/segments", headers=bearer)).status == 200  # still reads
    async with console.sessionmaker() as session:
        token = await session.scalar(select(ApiToken))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "token.narrow"))
    assert token.scope == "read"
    assert entry.actor_name == "boss" and entry.after["reason"].startswith("所属成员降为查看者")


async def test_a_tokens_rights_follow_the_owners_current_role_on_every_request(console):
    amy = await console.add_user("amy", "operator")
    bearer = await _write_token(console, amy)
    async with console.sessionmaker() as session, session.begin():
        (await session.get(User, amy.id)).role = "viewer"  # changed without the members page
    resp = await console.client.post("/api/segments", json=SEGMENT, headers=bearer)
    assert resp.status == 403


async def test_disabling_a_tokens_owner_revokes_it_audited(console):
    admin = await console.login_as("admin", name="boss")
    amy = await console.add_user("amy", "operator")
    bearer = await _write_token(console, amy)
    resp = await console.client.post(
        f"/admin/settings/members/{amy.id}/disable", headers=admin, allow_redirects=False
    )
    assert resp.status == 303
    assert (await console.client.get("/api/segments", headers=bearer)).status == 401
    async with console.sessionmaker() as session:
        token = await session.scalar(select(ApiToken))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "token.revoke"))
    assert token.revoked_at is not None and entry.actor_name == "boss"
    # Enabling amy again does not bring a revoked token back.
    await console.client.post(f"/admin/settings/members/{amy.id}/enable", headers=admin)
    assert (await console.client.get("/api/segments", headers=bearer)).status == 401
