"""内容与互动 → 自定义菜单: the account's bottom menu in a phone mock, edited as one form (3
buttons × 5 sub-buttons, 上移/下移), saved as drafts, published through WeChat's
``menu/create``, and pulled back from WeChat (``get_current_selfmenu_info``).

Admins edit; operators see the page read-only. WeChat's limits are checked here
(``content/menu.py``) before anything is sent; WeChat's own refusal is shown with its code.
Every version records who saved, published or pulled it, and every change is audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.appkeys import CLOCK, SERVICES, SESSIONMAKER
from bot.wechat.client import WeChatAPIError
from console import audit
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from content.autoreply_store import current_ruleset
from content.menu import (
    CLICK_KEYS,
    DRAFT,
    MAX_BUTTONS,
    MAX_NAME_SUB,
    MAX_NAME_TOP,
    MAX_SUB,
    PUBLISHED,
    PULLED,
    RULE_KEY_PREFIX,
    SUGGESTED,
    clicks_since,
    from_wechat,
    latest_menu,
    menu_history,
    save_menu,
    to_wechat,
    validate_menu,
)

CLICK_DAYS = 7  # 7日点击 beside each button

page = PageRoutes()
PATH = "/admin/menu"


def _item(form: Any, prefix: str) -> dict[str, Any] | None:
    name = str(form.get(f"{prefix}_name", ""))[:100].strip()
    kind = str(form.get(f"{prefix}_type", "click"))
    if not name:
        return None
    item: dict[str, Any] = {"name": name}
    if kind == "view":
        item |= {"type": "view", "url": str(form.get(f"{prefix}_url", ""))[:2048].strip()}
    elif kind != "sub":
        item |= {"type": "click", "key": str(form.get(f"{prefix}_key", ""))[:200]}
    return item


def buttons_from_form(form: Any) -> list[dict[str, Any]]:
    """The menu the form describes (blank names are empty slots)."""
    buttons = []
    for i in range(MAX_BUTTONS):
        top = _item(form, f"b{i}")
        if top is None:
            continue
        subs = [s for j in range(MAX_SUB) if (s := _item(form, f"b{i}_s{j}")) is not None]
        if str(form.get(f"b{i}_type")) == "sub":
            top = {"name": top["name"], "sub_button": subs}
        buttons.append(top)
    return buttons


def _move(buttons: list[dict[str, Any]], spec: str) -> None:
    """Apply 上移/下移: ``b1:up`` (a button) or ``b1_s2:down`` (a sub-button)."""
    where, _, direction = spec.partition(":")
    step = -1 if direction == "up" else 1
    top, _, sub = where.removeprefix("b").partition("_s")
    try:
        i = int(top)
        items = buttons if not sub else buttons[i].get("sub_button") or []
        k = int(sub) if sub else i
    except (ValueError, IndexError):
        return
    if 0 <= k < len(items) and 0 <= k + step < len(items):
        items[k], items[k + step] = items[k + step], items[k]


async def _page(request: web.Request, *, status: int = 200, **extra: Any) -> web.Response:
    async with request.config_dict[SESSIONMAKER]() as session:
        draft = await latest_menu(session)
        published = await latest_menu(session, PUBLISHED)
        versions = await menu_history(session)
        rules = (await current_ruleset(session)).rules
        since = request.config_dict[CLOCK].now() - timedelta(days=CLICK_DAYS)
        clicks = await clicks_since(session, since)
    buttons = extra.pop("buttons", None)
    if buttons is None:
        buttons = draft.buttons if draft is not None else SUGGESTED
    context = {
        "buttons": buttons, "published": published, "versions": versions,
        "click_keys": CLICK_KEYS, "rules": rules, "rule_prefix": RULE_KEY_PREFIX,
        "can_edit": Role.parse(signed_in_user(request).role) == Role.admin,
        "max_buttons": MAX_BUTTONS, "max_sub": MAX_SUB, "max_top": MAX_NAME_TOP,
        "max_sub_name": MAX_NAME_SUB, "suggested": draft is None, "errors": [], "notice": None,
        "just_published": request.query.get("published") == "1",
        "clicks": clicks, "click_days": CLICK_DAYS,
    } | extra  # fmt: skip
    return render(request, "menu.html", context, status=status)


@page.get(PATH, role="operator")
async def menu(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page.post(PATH, role="admin")
async def save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    buttons = buttons_from_form(form)
    action = str(form.get("action", "draft"))
    if action.startswith("move:"):
        _move(buttons, action.removeprefix("move:"))
        return await _page(request, buttons=buttons)
    async with request.config_dict[SESSIONMAKER]() as session:
        rule_ids = {r.id for r in (await current_ruleset(session)).rules}
    errors = validate_menu(buttons, rule_ids)
    if errors:
        return await _page(request, status=400, buttons=buttons, errors=errors)
    if action == "publish":
        try:
            await request.config_dict[SERVICES].api.create_menu(to_wechat(buttons))
        except WeChatAPIError as exc:
            why = f"微信返回错误 {exc.errcode}：{exc.errmsg}" if exc.errcode else "连接微信失败"
            return await _page(request, status=400, buttons=buttons, errors=[f"发布失败，{why}"])
    status = PUBLISHED if action == "publish" else DRAFT
    await _store(request, buttons, status, f"menu.{'publish' if status == PUBLISHED else 'draft'}")
    return redirect(request, PATH + ("?published=1" if status == PUBLISHED else ""))


async def _store(request: web.Request, buttons: list[dict[str, Any]], status: str, action: str):
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        saved = await save_menu(session, buttons, status, by=signed_in_user(request).name, at=now)
        audit.record(
            session, actor_of(request), action, ("menu", saved.id), None,
            {"status": status, "button": saved.buttons}, at=now,
        )  # fmt: skip


@page.post(PATH + "/pull", role="admin")
async def pull(request: web.Request) -> web.StreamResponse:
    try:
        answer = await request.config_dict[SERVICES].api.get_menu()
    except WeChatAPIError as exc:
        why = f"微信返回错误 {exc.errcode}：{exc.errmsg}" if exc.errcode else "连接微信失败"
        return await _page(request, status=400, errors=[f"拉取失败，{why}"])
    buttons = from_wechat(answer)
    if not buttons:
        return await _page(request, notice="公众号当前没有自定义菜单")
    await _store(request, buttons, PULLED, "menu.pull")
    return redirect(request, PATH)
