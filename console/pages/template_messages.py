"""内容与互动 → 话术模板 → 模板消息: per service-notice purpose, the WeChat template id, the
template's own typed fields (``thing1``, ``time2`` …) with their texts, and link, used for
buyers outside the 48-hour window (overriding ``[wechat] template_ids``).

Admins edit; operators read. The preview shows only what WeChat displays (the fields, filled
with sample values, each checked against its type's limit, and 详情 when there is a link). Saving is audited
(``template_message.save``). Rules and storage: ``content/template_messages.py``.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SERVICES, SESSIONMAKER
from bot.wechat.client import WeChatAPIError
from bot.wechat.template_messages import FIELD_LABELS, field_type, private_templates
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
        fields = dict(row.fields) if row else {}
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
        "platform": None,
        "platform_error": None,
        "rows": range(tm.MAX_FIELDS),
        "purpose_keys": list(tm.PURPOSES),
        "editable": user is not None and Role.parse(user.role) >= Role.admin,
        "error": None,
        "error_purpose": None,
        "notice": "已保存：所有进程 2 秒内生效" if request.query.get("done") else None,
    } | {k: v for k, v in extra.items() if k != "submitted"}
    return render(request, "templates/messages.html", context, status=status)


@page.get(PATH, role="operator")
async def template_messages(request: web.Request) -> web.StreamResponse:
    if not request.query.get("fetch"):
        return await _page(request)
    # 从公众号读取模板: the account's templates and their own field keys, to map by.
    try:
        found = await private_templates(request.config_dict[SERVICES].api)
    except WeChatAPIError as exc:
        reason = "微信无响应" if exc.errcode is None else f"错误码 {exc.errcode}"
        return await _page(request, platform_error=f"读取公众号的模板失败（{reason}），请稍后再试")
    platform = [
        {"id": t.template_id, "title": t.title, "example": t.example,
         "fields": [(k, FIELD_LABELS.get(field_type(k) or "", "")) for k in t.keys]}
        for t in found
    ]  # fmt: skip
    return await _page(request, platform=platform)


@page.post(PATH, role="admin")
async def save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    purpose = str(form.get("purpose", ""))[:32]
    template_id = str(form.get("template_id", "")).strip()[:200]
    url = str(form.get("url", "")).strip()[:2000]
    fields: dict[str, str] = {}
    missing_key = None
    for i in range(tm.MAX_FIELDS):
        key = str(form.get(f"key_{i}", "")).strip()[:40]
        value = str(form.get(f"value_{i}", ""))[:1000]
        if key:
            fields[key] = value
        elif value.strip() and missing_key is None:
            missing_key = i + 1
    actor = actor_of(request)
    try:
        if missing_key is not None:
            raise VersionError(f"第 {missing_key} 行缺少字段名（如 thing1）")
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
