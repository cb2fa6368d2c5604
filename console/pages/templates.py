"""内容与互动 → 话术模板: every buyer-facing template, edited as versions by admins.

Left: the catalogue by topic with 已修改 badges (filter ``?modified=1``); centre: the
editor (variable chips, a syntax and sample check as one types, POSTed to ``…/check``);
right: a WeChat bubble preview of the submitted text for a chosen sample context (F9); tab
版本历史: versions, diffs against the live version and the default, 回滚 and 恢复默认.
Operators see the same page read-only; viewers have no access. Saving, publishing, rolling
back and resetting are audited (``template.save`` / ``.publish`` / ``.rollback`` /
``.reset``); the check and the preview change nothing and are not audited. The rules
(what may be published, sample contexts) live in ``content/``, not here.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from bot.sandbox import RenderError
from console import audit
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.labels import template_problem, variable_chips
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from content import template_versions as tv
from content.catalogue import CATALOGUE, by_topic
from content.overrides import refresh_now
from content.samples import sample_contexts
from content.template_diff import diff_rows

page = PageRoutes()
PATH = "/admin/templates"
ONE = "/admin/templates/{template}"
KINDS = {"edit": "编辑", "rollback": "回滚", "reset": "恢复默认"}
NOTICES = {
    "saved": "已保存为草稿（尚未发布）",
    "published": "已发布：所有进程 2 秒内使用新话术",
    "publish": "已发布：所有进程 2 秒内使用新话术",
    "rollback": "已回滚（作为新版本发布）",
    "reset": "已恢复默认话术",
}


def _name(request: web.Request) -> str:
    name = request.match_info.get("template", "welcome")
    if name not in CATALOGUE:
        raise web.HTTPNotFound(text="没有这个话术模板")
    return name


def _is_admin(request: web.Request) -> bool:
    user = signed_in_user(request)
    return user is not None and Role.parse(user.role) >= Role.admin


async def _page(request: web.Request, name: str, *, status: int = 200, **extra) -> web.Response:
    q = request.query
    modified_only = q.get("modified") == "1"
    async with request.config_dict[SESSIONMAKER]() as session:
        states = await tv.states(session)
        history = await tv.history(session, name)
        failures = await tv.failures(session, name)
        live = await tv.live_source(session, name)
    state, info, default = states[name], CATALOGUE[name], tv.default_source(name)
    draft = state.draft
    source = extra.pop("source", None) or (draft.source if draft and draft.source else live)
    topics = [
        (
            topic,
            [(t, states[t.name]) for t in items if not modified_only or states[t.name].modified],
        )
        for topic, items in by_topic()
    ]
    diffs = None
    chosen = _int(q.get("v"))
    if chosen is not None:
        row = next((h for h in history if h.version == chosen), None)
        if row is not None:
            text = row.source if row.source is not None else default
            diffs = (row, diff_rows(live, text), diff_rows(default, text))
    config = request.config_dict[CONFIG]
    samples = [] if info.partial else sample_contexts(info, config)
    context = {
        "name": name,
        "info": info,
        "state": state,
        "topics": topics,
        "modified_only": modified_only,
        "any_shown": any(items for _, items in topics),
        "source": source,
        "live": live,
        "default": default,
        "history": history,
        "failures": failures,
        "kinds": KINDS,
        "tab": q.get("tab", "edit"),
        "diffs": diffs,
        "samples": samples,
        "editable": _is_admin(request) and not info.partial,
        "error": None,
        "notice": NOTICES.get(q.get("done", "")),
        "text_warn": tv.TEXT_WARN,
        "chips": variable_chips(info.variables),
        "earlier": [
            h for h in history if not (state.published and state.published.version == h.version)
        ],
    } | extra
    return render(request, "templates/page.html", context, status=status)


def _said(problem: tv.CheckFailure) -> str:
    return template_problem(problem.line, problem.reason, problem.sample)


def _refused(exc: tv.VersionError) -> str:
    return exc.refusal + _said(exc.problem) if exc.problem else str(exc)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 9 else None


@page.get(PATH, role="operator")
async def templates(request: web.Request) -> web.StreamResponse:
    return await _page(request, "welcome")


@page.get(ONE, role="operator")
async def template(request: web.Request) -> web.StreamResponse:
    return await _page(request, _name(request))


async def _source(request: web.Request) -> str:
    return str((await request.post()).get("source", ""))[: tv.MAX_SOURCE + 1]


@page.post(ONE + "/check", role="admin")
async def check(request: web.Request) -> web.StreamResponse:
    """The syntax and sample check of the submitted text (a partial; changes nothing)."""
    name, source = _name(request), await _source(request)
    services = request.config_dict[SERVICES]
    try:
        problems, longest = await tv.check_report(
            services.renderer, request.config_dict[CONFIG], name, source
        )
    except tv.VersionError as exc:
        problems, longest = [tv.CheckFailure("", None, str(exc))], 0
    if not request.headers.get("HX-Request"):  # without JS: the whole page, text kept
        if problems:
            return await _page(request, name, status=422, source=source,
                               error="检查未通过：" + _said(problems[0]))  # fmt: skip
        return await _page(
            request, name, source=source, notice="检查通过：所有示例买家都能正常显示"
        )
    return render(
        request,
        "templates/_check.html",
        {"problems": problems, "longest": longest, "text_warn": tv.TEXT_WARN},
    )


@page.post(ONE + "/preview", role="operator")
async def preview(request: web.Request) -> web.StreamResponse:
    """The submitted text (or the live one, for operators) in a chat bubble."""
    name = _name(request)
    form = await request.post()
    source = str(form.get("source", ""))[: tv.MAX_SOURCE + 1]
    if not _is_admin(request) or not source:
        async with request.config_dict[SESSIONMAKER]() as session:
            source = await tv.live_source(session, name)
    services = request.config_dict[SERVICES]
    text, error = None, None
    try:
        text = await tv.preview(
            services.renderer, request.config_dict[CONFIG], name, source, str(form.get("sample"))
        )
    except (RenderError, tv.VersionError) as exc:
        error = tv.CheckFailure("", getattr(exc, "line", None), getattr(exc, "reason", str(exc)))
    if not request.headers.get("HX-Request"):  # without JS: the whole page, text kept
        shown = {"source": source} if _is_admin(request) else {}
        if error:
            return await _page(request, name, status=422, error="无法预览：" + _said(error),
                               **shown)  # fmt: skip
        return await _page(request, name, notice="预览：" + text, **shown)
    return render(
        request,
        "templates/_preview.html",
        {"text": text, "error": error, "text_warn": tv.TEXT_WARN},
    )


@page.post(ONE + "/save", role="admin")
async def save(request: web.Request) -> web.StreamResponse:
    """保存草稿, or 保存并发布 (``publish=1``): a new version, then checked and made live."""
    name = _name(request)
    form = await request.post()
    source = str(form.get("source", ""))[: tv.MAX_SOURCE + 1]
    publish = form.get("publish") == "1"
    actor, now = actor_of(request), request.config_dict[CLOCK].now()
    services, config = request.config_dict[SERVICES], request.config_dict[CONFIG]
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            row = await tv.save_draft(session, name, source, (actor.id, actor.name), now)
            audit.record(
                session, actor, "template.save", ("template", name), None,
                {"version": row.version, "source": source},
            )  # fmt: skip
            if publish:
                before, after = await tv.publish(
                    session, services.renderer, config, name, row.version, actor.name, now
                )
                audit.record(session, actor, "template.publish", ("template", name), before, after)
    except tv.VersionError as exc:
        return await _page(request, name, status=422, source=source, error=_refused(exc))
    if publish:
        await refresh_now(request.config_dict[SESSIONMAKER], services.renderer)
    done = "published" if publish else "saved"
    return redirect(request, f"{PATH}/{name}?done={done}")


async def _change(request: web.Request, action: str) -> web.StreamResponse:
    name = _name(request)
    form = await request.post()
    version = _int(str(form.get("version", "")))
    actor, now = actor_of(request), request.config_dict[CLOCK].now()
    services, config = request.config_dict[SERVICES], request.config_dict[CONFIG]
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            if action == "reset":
                before, after = await tv.reset(session, name, (actor.id, actor.name), now)
            elif version is None:
                raise tv.VersionError("请选择一个版本")
            elif action == "publish":
                before, after = await tv.publish(
                    session, services.renderer, config, name, version, actor.name, now
                )
            else:
                before, after = await tv.rollback(
                    session, services.renderer, config, name, version, (actor.id, actor.name), now
                )
            audit.record(session, actor, f"template.{action}", ("template", name), before, after)
    except tv.VersionError as exc:
        return await _page(request, name, status=422, error=_refused(exc))
    await refresh_now(request.config_dict[SESSIONMAKER], services.renderer)
    return redirect(request, f"{PATH}/{name}?done={action}")


@page.post(ONE + "/publish", role="admin")
async def publish(request: web.Request) -> web.StreamResponse:
    return await _change(request, "publish")


@page.post(ONE + "/rollback", role="admin")
async def rollback(request: web.Request) -> web.StreamResponse:
    return await _change(request, "rollback")


@page.post(ONE + "/reset", role="admin")
async def reset(request: web.Request) -> web.StreamResponse:
    return await _change(request, "reset")
