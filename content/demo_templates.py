"""Demo data for 话术模板: an edited, published 暂无直播 reply and a draft after it.

Deterministic and idempotent: it writes only when the template has no versions yet, so a
restarted demo keeps what was edited in it. Called from the demo's seeders.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.dialog.rendering import Renderer
from content import template_versions as tv
from content.models import TemplateVersion

NAME = "live_none"
PUBLISHED = "{{ buyer.display_name or '您' }}好～最近暂时没有直播安排。\n新品上架和开播前我们会第一时间通知您，也可以回复「帮助」看看我能做什么。"
DRAFT = PUBLISHED + "\n想看哪类新品直播？直接回复告诉我们～"


async def seed_demo_templates(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    async with sessions() as session, session.begin():
        if await session.scalar(select(TemplateVersion.id).where(TemplateVersion.name == NAME)):
            return
        when = clock.now() - timedelta(days=3)
        row = await tv.save_draft(session, NAME, PUBLISHED, (None, "演示管理员"), when)
        await tv.publish(session, Renderer(), config, NAME, row.version, "演示管理员", when)
        await tv.save_draft(session, NAME, DRAFT, (None, "演示管理员"), clock.now())
