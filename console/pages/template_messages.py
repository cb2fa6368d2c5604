"""内容与互动 → 话术模板 → 模板消息: per purpose, the WeChat template id, field texts and link
used for buyers outside the 48-hour window (overriding ``[wechat] template_ids``).

Admins edit; operators read. The preview shows only what WeChat displays (the fields, filled
with sample values, and 详情 when there is a link). Saving is audited
(``template_message.save``). Rules and storage: ``content/template_messages.py``.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of, signed_in_user
from console.registry import PageRoutes
from console.rendering import render
from console.roles import Role
from content import template_messages as tm
from content.overrides import refresh_now
from content.template_versions import VersionError

page = PageRoutes()
PATH = "/admin/template-messages"


async def _page(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    async with request.config_dict[SESSIONMAKER]() as session:
        rows = await tm.mappings(session)
    configured = request.config_dict[CONFIG].wechat.template_ids
    user = signed_in_user(request)
    items = []
    for key, purpose in tm.PURPOSES.items():
        row = rows.get(key)
        fields = {k: tm.with_labels(key, v) for k, v in row.fields.items()} if row else {}
        if key in extra.get("submitted", {}):
            fields = extra["submitted"][key]
        items.append(
            {
                "purpose": purpose,
                "row": row,
                "configured": configured.get(key, ""),
                "fields": fields,
                "preview": tm.preview(key, fields),
            }
        )
    context = {
        "items": items,
        "field_names": tm.FIELD_NAMES,
        "field_warn": tm.FIELD_WARN,
        "editable": user is not None and Role.parse(user.role) >= Role.admin,
        "error": None,
        "error_purpose": None,
        "notice": "已保存：所有进程 2 秒内生效" if request.query.get("done") else None,
    } | {k: v for k, v in extra.items() if k != "submitted"}
    return render(request, "templates/messages.html", context, status=status)


@page.get(PATH, role="operator")
async def template_messages(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@page.post(PATH, role="admin")
async def save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    purpose = str(form.get("purpose", ""))[:32]
    template_id = str(form.get("template_id", "")).strip()[:200]
    url = str(form.get("url", "")).strip()[:2000]
    fields = {name: str(form.get(name, ""))[:1000] for name in tm.FIELD_NAMES}
    actor = actor_of(request)
    try:
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            before, after = await tm.save(
                session, purpose, template_id, fields, url, actor.name,
                request.config_dict[CLOCK].now(),
            )  # fmt: skip
            audit.record(
                session, actor, "template_message.save", ("template_message", purpose),
                before, after,
            )  # fmt: skip
    except VersionError as exc:
        submitted = {purpose: fields} if purpose in tm.PURPOSES else {}
        return await _page(
            request, status=422, error=str(exc), error_purpose=purpose, submitted=submitted
        )
    await refresh_now(request.config_dict[SESSIONMAKER], request.config_dict[SERVICES].renderer)
    return redirect(request, f"{PATH}?done=1#{purpose}")
