"""Template messages per purpose, edited in the console: WeChat template id, field texts
and link, stored in the database and overriding ``[wechat] template_ids``.

Each purpose lists the placeholders its sender fills (``{first}``, ``{tier_name}`` …). A
saved layout bumps the content generation, so every process's ``TemplateMessageBook``
(``bot/wechat/template_messages.py``) picks it up with the published templates
(``content/overrides.py``). WeChat shows about 20 characters of a keyword field; longer
texts are warned about, not refused. This module does not send anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.wechat.template_messages import TemplateLayout, fill
from content.models import TemplateMessageMapping
from content.template_versions import VersionError, bump_generation


@dataclass(frozen=True)
class Purpose:
    key: str
    label: str
    placeholders: dict[str, str]  # name → what it holds
    sample: dict[str, str]  # sample values for the preview


PURPOSES = {
    p.key: p
    for p in (
        Purpose("tier_change", "会员等级变更",
                {"first": "通知第一行", "tier_name": "新等级名称", "date": "变更日期",
                 "remark": "通知其余内容"},
                {"first": "王姐，恭喜您升级为【金卡会员】", "tier_name": "金卡会员",
                 "date": "2026-05-18", "remark": "专属客服、优先发货已为您开通。"}),
        Purpose("livestream", "直播预告（窗口外）",
                {"content": "活动消息正文", "title": "直播标题"},
                {"content": "春季新品直播 5月18日 20:00 开播", "title": "春季新品直播"}),
        Purpose("recall", "粉丝召回（窗口外）",
                {"content": "活动消息正文", "title": "活动标题"},
                {"content": "王姐，5·18 老客专场 00:00–24:00", "title": "5·18 老客专场"}),
        Purpose("broadcast", "群发消息（窗口外）",
                {"content": "活动消息正文", "title": "标题"},
                {"content": "新款春装已到货", "title": "上新通知"}),
    )
}  # fmt: skip
FIELD_NAMES = ("first", *(f"keyword{i}" for i in range(1, 6)), "remark")
# As staff read them: the order the MP backend lists a template's fields in.
FIELD_LABELS = {
    "first": "开头语",
    **{f"keyword{i}": f"第 {i} 项" for i in range(1, 6)},
    "remark": "结尾备注",
}
# Staff write placeholders by what they hold ({新等级名称}); the stored text names them by
# key ({tier_name}), which is what the senders fill.
_NAMED = re.compile(r"\{([^{}]{1,20})\}")


def with_keys(purpose: str, text: str) -> str:
    """{新等级名称} → {tier_name} for `purpose`'s placeholders (keys stay keys)."""
    by_label = {label: key for key, label in PURPOSES[purpose].placeholders.items()}
    return _NAMED.sub(lambda m: "{" + by_label.get(m.group(1), m.group(1)) + "}", text)


def with_labels(purpose: str, text: str) -> str:
    """{tier_name} → {新等级名称}: a stored text as staff write it."""
    labels = PURPOSES[purpose].placeholders
    return _NAMED.sub(lambda m: "{" + labels.get(m.group(1), m.group(1)) + "}", text)


FIELD_WARN = 20  # characters WeChat shows of a keyword field
TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_FIELD = 200


async def mappings(session: AsyncSession) -> dict[str, TemplateMessageMapping]:
    return {m.purpose: m for m in await session.scalars(select(TemplateMessageMapping))}


def validate(purpose: str, template_id: str, fields: dict[str, str], url: str) -> None:
    if purpose not in PURPOSES:
        raise VersionError("没有这个用途")
    if template_id and not TEMPLATE_ID.match(template_id):
        raise VersionError("模板 ID 只能包含字母、数字、下划线和短横线（最多 128 个）")
    for name, text in fields.items():
        if name not in FIELD_NAMES:
            raise VersionError("没有这个字段")
        if len(text) > MAX_FIELD:
            raise VersionError(f"「{FIELD_LABELS[name]}」过长（最多 {MAX_FIELD} 字）")
    if len(url) > 1024 or (url and not url.startswith(("https://", "http://"))):
        raise VersionError("链接须以 http:// 或 https:// 开头，最长 1,024 字")


async def save(
    session: AsyncSession,
    purpose: str,
    template_id: str,
    fields: dict[str, str],
    url: str,
    by: str,
    now: datetime,
) -> tuple[dict | None, dict]:
    """Store the layout of `purpose` (an empty id removes the override). Returns (before,
    after) for the audit entry."""
    fields = {k: v for k, v in fields.items() if v.strip()}
    validate(purpose, template_id, fields, url)
    fields = {k: with_keys(purpose, v) for k, v in fields.items()}
    row = await session.get(TemplateMessageMapping, purpose)
    before = _snapshot(row) if row else None
    if not template_id and not fields:
        if row is not None:
            await session.delete(row)
        await bump_generation(session)
        return before, {}
    if row is None:
        row = TemplateMessageMapping(purpose=purpose)
        session.add(row)
    row.template_id, row.fields, row.url = template_id, fields, url
    row.updated_by, row.updated_at = by, now
    await bump_generation(session)
    return before, _snapshot(row)


def _snapshot(row: TemplateMessageMapping) -> dict:
    return {"template_id": row.template_id, "fields": dict(row.fields), "url": row.url}


def layouts(rows: dict[str, TemplateMessageMapping]) -> dict[str, TemplateLayout]:
    return {p: TemplateLayout(r.template_id, dict(r.fields), r.url) for p, r in rows.items()}


def preview(purpose: str, fields: dict[str, str]) -> list[tuple[str, str, bool]]:
    """What WeChat displays: (field, text filled with sample values, longer than shown)."""
    sample = PURPOSES[purpose].sample
    return [
        (name, text, name.startswith("keyword") and len(text) > FIELD_WARN)
        for name in FIELD_NAMES
        if (text := fill(with_keys(purpose, fields.get(name, "")), sample))
    ]


__all__ = [
    "FIELD_LABELS", "FIELD_NAMES", "PURPOSES", "layouts", "mappings", "preview", "save", "validate",
    "with_keys", "with_labels",
]  # fmt: skip
