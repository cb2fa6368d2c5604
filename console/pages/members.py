"""设置 → 成员与角色: admins add staff, change roles, disable and re-enable accounts.

Adding an account or changing a role grants rights, so it re-asks the admin's own password
(throttled per account like the sign-in, ``sign_in.confirm_password``); a new password must
pass the policy (``password_policy.py``), and is hashed in the worker pool.
A new account's password is typed, or generated and shown once on the answer page (never
stored or shown again). Every change is audited with before and after.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.accounts import (
    AccountError,
    create_user,
    generate_password,
    get_user,
    hash_password,
    list_users,
    set_disabled,
    set_role,
    user_snapshot,
)
from console.auth import redirect
from console.current import actor_of, client_address, signed_in_user
from console.password_pool import BUSY_MESSAGE, PASSWORD_POOL, PoolBusy
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from console.sign_in import confirm_password
from console.tokens import fit_tokens_to_owner

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


async def _confirm_password(request: web.Request, password: str) -> None:
    """Raise AccountError unless `password` is the admin's own (throttled: ``sign_in.py``)."""
    refused = await confirm_password(
        request.config_dict[SESSIONMAKER], request.config_dict[PASSWORD_POOL],
        signed_in_user(request), password, client_address(request),
        request.config_dict[CLOCK].now(), request.config_dict[CONFIG].console,
        wrong="你的登录密码不正确，操作未执行",
    )  # fmt: skip
    if refused is not None:
        raise AccountError(refused)


@page.get(PATH, role="admin")
async def members(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page.post(PATH, role="admin")
async def add_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", "")) or generate_password(name)
    pool = request.config_dict[PASSWORD_POOL]
    try:
        await _confirm_password(request, str(form.get("my_password", "")))
        role = Role.parse(str(form.get("role", "")))
        with pool.admit():  # the new password's hash, off the event loop
            password_hash = await pool.run(hash_password, name, password)
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            user = await create_user(
                session, name, role, None, request.config_dict[CLOCK].now(),
                password_hash=password_hash,
            )  # fmt: skip
            audit.record(
                session, actor_of(request), "user.create", ("user", user.id), None,
                user_snapshot(user), at=request.config_dict[CLOCK].now(),
            )  # fmt: skip
    except (AccountError, ValueError) as exc:
        return await _page(request, status=400, error=str(exc))
    except PoolBusy:
        return await _page(request, status=429, error=BUSY_MESSAGE)
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
            now = request.config_dict[CLOCK].now()
            audit.record(
                session, actor_of(request), action, ("user", user.id), before,
                user_snapshot(user), at=now,
            )  # fmt: skip
            # A demoted or disabled owner's API tokens lose what the owner lost, at once.
            await fit_tokens_to_owner(session, user, actor_of(request), now)
    except (AccountError, ValueError) as exc:
        return await _page(request, status=400, error=str(exc))
    return redirect(request, PATH)


@page.post(PATH + "/{user_id}/role", role="admin")
async def change_role(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        await _confirm_password(request, str(form.get("my_password", "")))
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
