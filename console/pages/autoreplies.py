"""内容与互动 → 自动回复: keyword rules, the reply to unmatched messages and to new followers,
with versions (every save is one), 试一试, warnings and the unmatched words of the week.

Admins edit; operators see the same page without edit controls. Every save stores the whole
rule set as a new version (``content/autoreply_store.py``) and is audited; 回滚 stores an
earlier version again as the newest. The bot picks a save up within about a second. 试一试
and the shadowed-keyword warnings walk the bot's real dispatcher without running a handler
(``content/autoreply_trial.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.appkeys import CLOCK, DISPATCHER, SERVICES, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from content.autoreplies import MODES, RuleSet, duplicate_keywords, parse_ruleset
from content.autoreply_store import (
    current_version,
    get_version,
    history,
    hits_since,
    save_ruleset,
    unmatched_messages,
)
from content.autoreply_trial import shadowing_command, who_answers

page = PageRoutes()
PATH = "/admin/autoreplies"
TABS = {"keyword": "关键词回复", "message": "收到消息回复", "follow": "被关注回复"}
STARTERS = {
    "地址": ("地址", "{称呼}您好，我们的地址是：（请填写），欢迎来访。"),
    "发货时间": ("发货", "现货 48 小时内发货，定制款 7–15 天，具体以订单为准。"),
}
REPLY_SEPARATOR = "---"


def _is_admin(request: web.Request) -> bool:
    return Role.parse(signed_in_user(request).role) == Role.admin


def _field(form: Any, name: str, limit: int = 2000) -> str:
    return str(form.get(name, ""))[:limit]


def _rule_from_form(form: Any, rule_id: str) -> dict[str, Any]:
    mode = _field(form, "mode", 16)
    words = [w.strip() for w in _field(form, "keywords").splitlines() if w.strip()]
    replies = [
        part.strip()
        for part in _field(form, "replies", 5000)
        .replace("\r\n", "\n")
        .split("\n" + REPLY_SEPARATOR + "\n")
    ]
    try:
        priority = int(_field(form, "priority", 8) or 0)
    except ValueError:
        raise ValueError("优先级应为 0–100 的整数") from None
    return {
        "id": rule_id,
        "name": _field(form, "name", 100).strip(),
        "keywords": [{"text": w, "mode": mode if mode in MODES else "contains"} for w in words],
        "replies": replies,
        "reply_mode": "random" if form.get("reply_mode") == "random" else "one",
        "priority": priority,
        "hours": _field(form, "hours", 32).strip() or None,
        "enabled": form.get("enabled") is not None,
    }


async def _page(request: web.Request, *, status: int = 200, **extra: Any) -> web.Response:
    q = request.query
    tab = q.get("tab", "keyword") if q.get("tab") in TABS else "keyword"
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        version = await current_version(session)
        hits = await hits_since(session, now - timedelta(days=7))
        unmatched = await unmatched_messages(session, now)
        versions = await history(session)
    ruleset = version.ruleset if version is not None else RuleSet()
    dispatcher, services = request.config_dict[DISPATCHER], request.config_dict[SERVICES]
    shadowed: dict[str, list[tuple[str, str]]] = {}
    for rule in ruleset.rules:
        for k in rule.keywords:
            if k.mode != "regex":
                winner = shadowing_command(dispatcher, services, k.text, now)
                if winner:
                    shadowed.setdefault(rule.id, []).append((k.text, winner))
    trial_text = q.get("q", "").strip()[:200]
    trial = who_answers(dispatcher, services, ruleset, trial_text, now) if trial_text else None
    edit_id = q.get("edit", "")
    editing = ruleset.rule(edit_id) if edit_id else None
    starter = STARTERS.get(q.get("starter", ""))
    new_word = q.get("new", "").strip()[:30]
    context = {
        "tab": tab, "tabs": TABS, "ruleset": ruleset, "version": version, "versions": versions,
        "hits": hits, "unmatched": unmatched, "duplicates": duplicate_keywords(ruleset),
        "shadowed": shadowed, "trial_text": trial_text, "trial": trial, "modes": MODES,
        "can_edit": _is_admin(request), "editing": editing, "starter": starter,
        "new_word": new_word, "starters": STARTERS, "separator": REPLY_SEPARATOR,
        "error": None, "form": None,
    } | extra  # fmt: skip
    return render(request, "autoreplies.html", context, status=status)


@page.get(PATH, role="operator")
async def autoreplies(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _save(
    request: web.Request, change, action: str, obj_id: str, note: str, back: str
) -> web.StreamResponse:
    """Apply `change` (RuleSet → new data dict) to the current set and store a new version."""
    now = request.config_dict[CLOCK].now()
    actor = actor_of(request)
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            version = await current_version(session)
            before = version.ruleset if version is not None else RuleSet()
            # Stored leniently, like the bot loads it, so an old rule whose pattern RE2
            # refuses does not block every other save; but nothing new may add one.
            after = parse_ruleset(change(before), stored=True)
            if added := sorted(after.refused_patterns() - before.refused_patterns()):
                raise ValueError(_refusal(after, added[0]))
            saved = await save_ruleset(
                session, after, by=signed_in_user(request).name, note=note, at=now
            )
            audit.record(
                session, actor, action, ("autoreply", obj_id),
                {"version": version.id if version else None},
                {"version": saved.id, "note": note}, at=now,
            )  # fmt: skip
    except ValueError as exc:
        return await _page(request, status=400, error=str(exc), form=dict(await request.post()))
    return redirect(request, back)


def _refusal(ruleset: RuleSet, pattern: str) -> str:
    """The editor's reason for refusing `pattern` (as RE2 refused it)."""
    reason = next(
        k.refused for r in ruleset.rules for k in r.keywords if k.text == pattern and k.refused
    )
    return reason if pattern in reason else f"正则「{pattern}」：{reason}"


@page.post(PATH + "/rules", role="admin")
async def save_rule(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    rule_id = _field(form, "rule_id", 16)

    def change(rs: RuleSet) -> dict[str, Any]:
        data = rs.model_dump(mode="json")
        if rule_id:
            if rs.rule(rule_id) is None:
                raise ValueError("该规则已被删除，请刷新页面")
            new = _rule_from_form(form, rule_id)
            data["rules"] = [new if r["id"] == rule_id else r for r in data["rules"]]
        else:
            data["rules"].append(_rule_from_form(form, rs.next_id()))
        return data

    name = _field(form, "name", 30).strip()
    note = f"{'修改' if rule_id else '新建'}规则「{name}」"
    return await _save(request, change, "autoreply.rule.save", rule_id or "new", note, PATH)


async def _rule_action(request: web.Request, action: str) -> web.StreamResponse:
    rule_id = _field(await request.post(), "rule_id", 16)

    def change(rs: RuleSet) -> dict[str, Any]:
        rule = rs.rule(rule_id)
        if rule is None:
            raise ValueError("该规则已被删除，请刷新页面")
        data = rs.model_dump(mode="json")
        if action == "delete":
            data["rules"] = [r for r in data["rules"] if r["id"] != rule_id]
        else:
            for r in data["rules"]:
                if r["id"] == rule_id:
                    r["enabled"] = not r["enabled"]
        return data

    note = {"toggle": "启用/停用规则", "delete": "删除规则"}[action] + f" {rule_id}"
    return await _save(request, change, f"autoreply.rule.{action}", rule_id, note, PATH)


@page.post(PATH + "/rules/toggle", role="admin")
async def toggle_rule(request: web.Request) -> web.StreamResponse:
    return await _rule_action(request, "toggle")


@page.post(PATH + "/rules/delete", role="admin")
async def delete_rule(request: web.Request) -> web.StreamResponse:
    return await _rule_action(request, "delete")


@page.post(PATH + "/welcome", role="admin")
async def save_welcome(request: web.Request) -> web.StreamResponse:
    return await _save_fixed(request, "welcome")


@page.post(PATH + "/default", role="admin")
async def save_default(request: web.Request) -> web.StreamResponse:
    return await _save_fixed(request, "default")


async def _save_fixed(request: web.Request, which: str) -> web.StreamResponse:
    form = await request.post()

    def change(rs: RuleSet) -> dict[str, Any]:
        data = rs.model_dump(mode="json")
        data[which] = {"enabled": form.get("enabled") is not None,
                       "text": _field(form, "text", 1000)}  # fmt: skip
        return data

    tab = "follow" if which == "welcome" else "message"
    note = "保存被关注回复" if which == "welcome" else "保存收到消息回复"
    return await _save(request, change, f"autoreply.{which}", which, note, f"{PATH}?tab={tab}")


@page.post(PATH + "/rollback", role="admin")
async def rollback(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        version_id = int(_field(form, "version", 12))
    except ValueError:
        return await _page(request, status=400, error="请选择要回滚到的版本")
    async with request.config_dict[SESSIONMAKER]() as session:
        old = await get_version(session, version_id)
    if old is None:
        return await _page(request, status=400, error=f"版本 v{version_id} 不存在")
    return await _save(
        request, lambda rs: old.ruleset.model_dump(mode="json"), "autoreply.rollback",
        str(version_id), f"回滚到 v{version_id}", PATH,
    )  # fmt: skip
