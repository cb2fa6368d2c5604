"""设置 → API 令牌: staff create tokens for the ``/api`` (shown once), see when each was last
used, and revoke them by typing the token's name.

Operators manage their own tokens; admins see and may revoke everyone's. Creating a token
re-asks the creator's password (throttled per account, ``sign_in.confirm_password``).
Viewers have no tokens (the API is for tools that change things or read in bulk).
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.accounts import AccountError
from console.auth import redirect
from console.current import actor_of, client_address, signed_in_user
from console.password_pool import PASSWORD_POOL
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from console.sign_in import confirm_password
from console.tokens import EXPIRY_CHOICES, create_token, get_token, token_snapshot, tokens_of

page = PageRoutes()
PATH = "/admin/settings/tokens"


async def _page(request: web.Request, *, status: int = 200, **context) -> web.Response:
    me = signed_in_user(request)
    is_admin = Role.parse(me.role) == Role.admin
    async with request.config_dict[SESSIONMAKER]() as session:
        tokens = await tokens_of(session, None if is_admin else me)
    return render(
        request,
        "settings/tokens.html",
        {"tokens": tokens, "show_owner": is_admin, "error": None, "created": None,
         "now": request.config_dict[CLOCK].now()} | context,
        status=status,
    )  # fmt: skip


@page.get(PATH, role="operator")
async def tokens(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page.post(PATH, role="operator")
async def new_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    me = signed_in_user(request)
    now = request.config_dict[CLOCK].now()
    expiry = str(form.get("expiry", "90"))
    try:
        refused = await confirm_password(
            request.config_dict[SESSIONMAKER], request.config_dict[PASSWORD_POOL], me,
            str(form.get("my_password", "")), client_address(request), now,
            request.config_dict[CONFIG].console, wrong="你的登录密码不正确，令牌未创建",
        )  # fmt: skip
        if refused is not None:
            raise AccountError(refused)
        if expiry not in EXPIRY_CHOICES:
            raise AccountError("有效期无效")
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            row, secret = await create_token(
                session, me, str(form.get("name", "")), str(form.get("scope", "")),
                EXPIRY_CHOICES[expiry], now,
            )  # fmt: skip
            audit.record(
                session, actor_of(request), "token.create", ("api_token", row.id), None,
                token_snapshot(row), at=now,
            )  # fmt: skip
    except AccountError as exc:
        return await _page(request, status=400, error=str(exc))
    return await _page(request, created={"name": row.name, "secret": secret})


@page.post(PATH + "/{token_id}/revoke", role="operator")
async def revoke(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    me = signed_in_user(request)
    now = request.config_dict[CLOCK].now()
    try:
        token_id = int(request.match_info["token_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        token = await get_token(session, token_id)
        if token is None or (token.user_id != me.id and Role.parse(me.role) != Role.admin):
            raise web.HTTPNotFound()
        if str(form.get("confirm", "")).strip() != token.name:
            error = f"请输入令牌名称「{token.name}」以确认撤销"
        elif token.revoked_at is not None:
            error = "该令牌已撤销"
        else:
            before = token_snapshot(token)
            token.revoked_at = now
            audit.record(
                session, actor_of(request), "token.revoke", ("api_token", token.id), before,
                token_snapshot(token), at=now,
            )  # fmt: skip
            error = None
    if error:
        return await _page(request, status=400, error=error)
    return redirect(request, PATH)
