"""Template messages per purpose, edited in the console: WeChat template id, the template's
own typed fields (``thing1``, ``time2`` …) and link, stored in the database and overriding
``[wechat] template_ids``.

Only service notices may be mapped (a tier change, an answer to the buyer): the platform
forbids marketing in template messages, so campaigns have no purpose here. Each purpose lists
the placeholders its sender fills (``{tier_name}``, ``{date}`` …). A field is checked when it
is saved, filled with the purpose's sample values, against WeChat's rules since 2023-05-04
(no ``first``/``remark``, no newline, each type's length: ``bot/wechat/template_messages``),
and refused with a Chinese message. A saved layout bumps the content generation, so every
process's ``TemplateMessageBook`` picks it up with the published templates
(``content/overrides.py``). This module does not send anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.wechat.template_messages import (
    FIELD_LABELS,
    TemplateLayout,
    field_problem,
    field_type,
    fill,
)
from content.models import TemplateMessageMapping
from content.template_versions import VersionError, bump_generation


@dataclass(frozen=True)
class Purpose:
    key: str
    label: str
    placeholders: dict[str, str]  # name → what it holds
    sample: dict[str, str]  # sample values for the preview and the checks


PURPOSES = {
    p.key: p
    for p in (
        Purpose("tier_change", "会员等级变更",
                {"tier_name": "新等级名称", "date": "变更日期", "notice": "通知第一句"},
                {"tier_name": "金卡会员", "date": "2026-05-18",
                 "notice": "王姐，恭喜您升级为【金卡会员】"}),
        Purpose("inbox_reply", "客服回复（窗口外）",
                {"content": "回复内容", "staff": "客服"},
                {"content": "您好，已为您补发", "staff": "客服小王"}),
        Purpose("statement", "对账单（结账通知）",
                {"period": "账期", "net": "净采购额", "rebate": "返点", "date": "结账日期",
                 "notice": "通知第一句"},
                {"period": "2026年11月", "net": "¥12,800", "rebate": "¥384",
                 "date": "2026-12-02", "notice": "王姐，您 11 月的对账单出来了"}),
    )
}  # fmt: skip
MAX_FIELDS = 5  # rows the editor offers (category templates have at most five fields)
TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_FIELD = 200


async def mappings(session: AsyncSession) -> dict[str, TemplateMessageMapping]:
    return {m.purpose: m for m in await session.scalars(select(TemplateMessageMapping))}


def validate(purpose: str, template_id: str, fields: dict[str, str], url: str) -> None:
    """Refuse (VersionError, in Chinese) what WeChat would refuse or cut."""
    if purpose not in PURPOSES:
        raise VersionError(
            "只有服务通知（会员等级变更、客服回复、对账单）可以用模板消息；营销活动不能用模板消息"
        )
    if template_id and not TEMPLATE_ID.match(template_id):
        raise VersionError("模板 ID 只能包含字母、数字、下划线和短横线（最多 128 个）")
    if len(fields) > MAX_FIELDS:
        raise VersionError(f"最多 {MAX_FIELDS} 个字段")
    sample = PURPOSES[purpose].sample
    for name, text in fields.items():
        if len(text) > MAX_FIELD:
            raise VersionError(f"字段 {name} 过长（最多 {MAX_FIELD} 字）")
        if problem := field_problem(name, fill(text, sample)):
            raise VersionError(problem)
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


def preview(purpose: str, fields: dict[str, str]) -> list[tuple[str, str, str, str | None]]:
    """What WeChat displays: (field, its type in Chinese, text filled with sample values, why
    WeChat would not show it like that or None)."""
    sample = PURPOSES[purpose].sample
    out = []
    for name, text in fields.items():
        filled = fill(text, sample)
        kind = field_type(name)
        out.append((name, FIELD_LABELS.get(kind or "", ""), filled, field_problem(name, filled)))
    return out


__all__ = ["MAX_FIELDS", "PURPOSES", "layouts", "mappings", "preview", "save", "validate"]
