"""设置 → 成员与角色: admins add staff, change roles, disable and re-enable accounts.

Adding an account or changing a role grants rights, so it re-asks the admin's own password.
A new account's password is typed, or generated and shown once on the answer page (never
stored or shown again). Every change is audited with before and after.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, SESSIONMAKER
from console import audit
from console.accounts import (
    AccountError,
    create_user,
    generate_password,
    get_user,
    list_users,
    password_matches,
    set_disabled,
    set_role,
    user_snapshot,
)
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role

page = PageRoutes()
PATH = "/admin/settings/members"


async def _page(request: web.Request, *, status: int = 200, **context) -> web.Response:
    async with request.config_dict[SESSIONMAKER]() as session:
        users = await list_users(session)
    return render(
        request,
        "settings/members.html",
        {"users": users, "roles": list(Role), "error": None, "created": None} | context,
        status=status,
    )


def _confirm_password(request: web.Request, password: str) -> None:
    me = signed_in_user(request)
    if me is None or not password_matches(me.password_hash, password):
        raise AccountError("你的登录密码不正确，操作未执行")


@page.get(PATH, role="admin")
async def members(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page.post(PATH, role="admin")
async def add_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    password = str(form.get("password", "")) or generate_password()
    try:
        _confirm_password(request, str(form.get("my_password", "")))
        role = Role.parse(str(form.get("role", "")))
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            user = await create_user(
                session, str(form.get("name", "")), role, password, request.config_dict[CLOCK].now()
            )
            audit.record(
                session, actor_of(request), "user.create", ("user", user.id), None,
                user_snapshot(user), at=request.config_dict[CLOCK].now(),
            )  # fmt: skip
    except (AccountError, ValueError) as exc:
        return await _page(request, status=400, error=str(exc))
    shown = password if not form.get("password") else None
    return await _page(request, created={"name": user.name, "password": shown})


async def _change(request: web.Request, action: str, change) -> web.StreamResponse:
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            user = await get_user(session, user_id)
            if user is None:
                raise web.HTTPNotFound()
            before = user_snapshot(user)
            await change(session, user)
            audit.record(
                session, actor_of(request), action, ("user", user.id), before,
                user_snapshot(user), at=request.config_dict[CLOCK].now(),
            )  # fmt: skip
    except (AccountError, ValueError) as exc:
        return await _page(request, status=400, error=str(exc))
    return redirect(request, PATH)


@page.post(PATH + "/{user_id}/role", role="admin")
async def change_role(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        _confirm_password(request, str(form.get("my_password", "")))
    except AccountError as exc:
        return await _page(request, status=400, error=str(exc))
    role = str(form.get("role", ""))
    return await _change(request, "user.role", lambda s, u: set_role(s, u, role))


@page.post(PATH + "/{user_id}/disable", role="admin")
async def disable(request: web.Request) -> web.StreamResponse:
    return await _change(request, "user.disable", lambda s, u: set_disabled(s, u, True))


@page.post(PATH + "/{user_id}/enable", role="admin")
async def enable(request: web.Request) -> web.StreamResponse:
    return await _change(request, "user.enable", lambda s, u: set_disabled(s, u, False))
