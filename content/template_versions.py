"""Admins' versions of the buyer-facing templates: draft, check, publish, roll back, reset.

The file under ``templates/messages/`` is the default. Saving an edit adds a version (a
draft); publishing makes a version live after it renders for every sample context
(``content/samples.py``) without error, empty text or a limit tripping; rolling back adds a
new version with an earlier one's text and publishes it; resetting adds a version meaning
"the file" and publishes it. Each publish bumps ``content_generation`` so every process
reloads (``content/overrides.py``). Functions take the caller's session and do not commit:
the console writes its audit entry in the same transaction. This module does not render
for buyers or decide who may edit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from jinja2 import Template
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.dialog.rendering import TEMPLATES_DIR, Renderer
from bot.sandbox import RenderError, as_render_error, render_checked, render_off_loop
from content.catalogue import CATALOGUE, TemplateInfo
from content.models import (
    EDIT,
    RESET,
    ROLLBACK,
    ContentGeneration,
    PublishedTemplate,
    TemplateFailure,
    TemplateVersion,
)
from content.samples import Sample, sample_contexts

MAX_SOURCE = 5_000  # characters of template source
TEXT_WARN = 600  # WeChat recommends customer-service text well under this
CHECK_TIME_S = 3.0  # every sample context together


class VersionError(Exception):
    """A change refused, with the reason in Chinese (shown on the form); a version that does
    not render also carries its first `problem` (the engine's reason may be English)."""

    def __init__(self, message: str, refusal: str = "", problem: CheckFailure | None = None):
        super().__init__(message)
        self.refusal, self.problem = refusal, problem


@dataclass(frozen=True)
class CheckFailure:
    sample: str
    line: int | None
    reason: str

    def message(self) -> str:
        where = f"第 {self.line} 行：" if self.line else ""
        return f"{where}{self.reason}" + (f"（示例：{self.sample}）" if self.sample else "")


def default_source(name: str, templates_dir: Path = TEMPLATES_DIR) -> str:
    return (templates_dir / "messages" / f"{name}.j2").read_text(encoding="utf-8")


def editable(name: str) -> TemplateInfo:
    info = CATALOGUE.get(name)
    if info is None:
        raise VersionError("没有这个话术模板")
    if info.partial:
        raise VersionError("这个模板不能在这里修改")
    return info


def compile_source(renderer: Renderer, source: str) -> Template:
    """The source compiled in the renderer's bounded sandbox (RenderError: line, reason)."""
    if len(source) > MAX_SOURCE:
        raise RenderError(f"模板过长（最多 {MAX_SOURCE:,} 字）")
    try:
        return renderer.env.from_string(source)
    except Exception as exc:
        raise as_render_error(exc) from None


def render_sample(template: Template, sample: Sample) -> str:
    text = render_checked(partial(template.render, sample.variables)).strip()
    if not text:
        raise RenderError("渲染结果为空")
    return text


def check_source(renderer: Renderer, config: Config, name: str, source: str) -> list[CheckFailure]:
    """Problems of `source` (empty: it renders for every sample context). Slow: run it with
    ``render_off_loop``."""
    return _check(renderer, config, name, source)[0]


def _check(
    renderer: Renderer, config: Config, name: str, source: str
) -> tuple[list[CheckFailure], int]:
    info = editable(name)
    try:
        template = compile_source(renderer, source)
    except RenderError as exc:
        return [CheckFailure("语法", exc.line, exc.reason)], 0
    deadline, longest = time.monotonic() + CHECK_TIME_S, 0
    for sample in sample_contexts(info, config):
        if time.monotonic() > deadline:
            return [CheckFailure(sample.label, None, "示例渲染总时间过长")], longest
        try:
            longest = max(longest, len(render_sample(template, sample)))
        except RenderError as exc:
            return [CheckFailure(sample.label, exc.line, exc.reason)], longest
    return [], longest


async def check_report(
    renderer: Renderer, config: Config, name: str, source: str
) -> tuple[list[CheckFailure], int]:
    """The problems of `source` and its longest sample text, off the event loop."""
    editable(name)
    try:
        return await render_off_loop(partial(_check, renderer, config, name, source))
    except RenderError as exc:  # the check itself failed (it should not)
        return [CheckFailure("检查", exc.line, exc.reason)], 0


async def check_off_loop(
    renderer: Renderer, config: Config, name: str, source: str
) -> list[CheckFailure]:
    return (await check_report(renderer, config, name, source))[0]


async def preview(renderer: Renderer, config: Config, name: str, source: str, key: str) -> str:
    """`source` rendered for the sample context `key` (RenderError when it fails)."""
    info = editable(name)
    samples = sample_contexts(info, config)
    sample = next((s for s in samples if s.key == key), samples[0])
    template = compile_source(renderer, source)
    return await render_off_loop(partial(render_sample, template, sample))


# --- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateState:
    name: str
    published: PublishedTemplate | None  # None or source None: the file is live
    latest: TemplateVersion | None  # newest version, published or not
    failures: int  # send-time failures of the live version

    @property
    def modified(self) -> bool:
        return self.published is not None and self.published.source is not None

    @property
    def draft(self) -> TemplateVersion | None:
        live = self.published.version if self.published else 0
        return self.latest if self.latest and self.latest.version > live else None


async def states(session: AsyncSession) -> dict[str, TemplateState]:
    published = {p.name: p for p in await session.scalars(select(PublishedTemplate))}
    newest = (
        select(TemplateVersion.name, func.max(TemplateVersion.version).label("v"))
        .group_by(TemplateVersion.name)
        .subquery()
    )
    latest = {
        v.name: v
        for v in await session.scalars(
            select(TemplateVersion).join(
                newest,
                (TemplateVersion.name == newest.c.name) & (TemplateVersion.version == newest.c.v),
            )
        )
    }
    counts = dict(
        (
            await session.execute(
                select(TemplateFailure.name, func.count())
                .join(
                    PublishedTemplate,
                    (PublishedTemplate.name == TemplateFailure.name)
                    & (PublishedTemplate.version == TemplateFailure.version),
                )
                .group_by(TemplateFailure.name)
            )
        ).all()
    )
    return {
        name: TemplateState(name, published.get(name), latest.get(name), counts.get(name, 0))
        for name in CATALOGUE
    }


async def history(session: AsyncSession, name: str) -> list[TemplateVersion]:
    rows = await session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.name == name)
        .order_by(TemplateVersion.version.desc())
        .limit(200)
    )
    return list(rows)


async def failures(session: AsyncSession, name: str, limit: int = 20) -> list[TemplateFailure]:
    rows = await session.scalars(
        select(TemplateFailure)
        .where(TemplateFailure.name == name)
        .order_by(TemplateFailure.id.desc())
        .limit(limit)
    )
    return list(rows)


async def live_source(session: AsyncSession, name: str) -> str:
    row = await session.get(PublishedTemplate, name)
    return row.source if row is not None and row.source is not None else default_source(name)


# --- changing -----------------------------------------------------------------------------
async def _next_version(session: AsyncSession, name: str) -> int:
    top = await session.scalar(
        select(func.max(TemplateVersion.version)).where(TemplateVersion.name == name)
    )
    return (top or 0) + 1


async def _add(session, name, source, kind, author, now, from_version=None) -> TemplateVersion:
    author_id, author_name = author
    row = TemplateVersion(
        name=name,
        version=await _next_version(session, name),
        source=source,
        kind=kind,
        from_version=from_version,
        author_id=author_id,
        author_name=author_name,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def save_draft(
    session: AsyncSession, name: str, source: str, author: tuple[int | None, str], now: datetime
) -> TemplateVersion:
    """A new version (not yet live). Refused when the text is too long or blank."""
    editable(name)
    if not source.strip():
        raise VersionError("话术不能为空")
    if len(source) > MAX_SOURCE:
        raise VersionError(f"话术过长（最多 {MAX_SOURCE:,} 字）")
    return await _add(session, name, source, EDIT, author, now)


async def bump_generation(session: AsyncSession) -> None:
    done = await session.execute(
        update(ContentGeneration)
        .where(ContentGeneration.id == 1)
        .values(generation=ContentGeneration.generation + 1)
    )
    if done.rowcount == 0:
        session.add(ContentGeneration(id=1, generation=1))


async def read_generation(session: AsyncSession) -> int:
    return await session.scalar(select(ContentGeneration.generation)) or 0


async def _make_live(session, row: TemplateVersion, by: str, now: datetime) -> dict:
    current = await session.get(PublishedTemplate, row.name)
    before = {"version": current.version if current else None}
    if current is None:
        current = PublishedTemplate(name=row.name)
        session.add(current)
    current.version, current.source = row.version, row.source
    current.published_by, current.published_at = by, now
    row.published_at = now
    await bump_generation(session)
    return before


async def publish(
    session: AsyncSession,
    renderer: Renderer,
    config: Config,
    name: str,
    version: int,
    by: str,
    now: datetime,
) -> tuple[dict, dict]:
    """Make `version` live after checking it (VersionError names line and reason).
    Returns (before, after) for the audit entry."""
    row = await _checked_version(session, renderer, config, name, version, "不能发布：")
    before = await _make_live(session, row, by, now)
    return before, {"version": row.version, "source": row.source}


async def _checked_version(
    session: AsyncSession,
    renderer: Renderer,
    config: Config,
    name: str,
    version: int,
    refusal: str,
) -> TemplateVersion:
    """Version `version` of an editable template, its text checked against every sample
    context (VersionError: `refusal` followed by the first problem's line and reason)."""
    editable(name)
    row = await session.scalar(
        select(TemplateVersion).where(
            TemplateVersion.name == name, TemplateVersion.version == version
        )
    )
    if row is None:
        raise VersionError("没有这个版本")
    if row.source is not None:
        problems = await check_off_loop(renderer, config, name, row.source)
        if problems:
            raise VersionError(refusal + problems[0].message(), refusal, problems[0])
    return row


async def rollback(
    session: AsyncSession,
    renderer: Renderer,
    config: Config,
    name: str,
    to_version: int,
    author: tuple[int | None, str],
    now: datetime,
) -> tuple[dict, dict]:
    """A new version with `to_version`'s text, checked and published."""
    old = await _checked_version(
        session, renderer, config, name, to_version, "不能回滚到这个版本："
    )
    kind = ROLLBACK if old.source is not None else RESET
    row = await _add(session, name, old.source, kind, author, now, from_version=to_version)
    before = await _make_live(session, row, author[1], now)
    return before, {"version": row.version, "from_version": to_version}


async def reset(
    session: AsyncSession, name: str, author: tuple[int | None, str], now: datetime
) -> tuple[dict, dict]:
    """A new version meaning "the file", published."""
    editable(name)
    row = await _add(session, name, None, RESET, author, now)
    before = await _make_live(session, row, author[1], now)
    return before, {"version": row.version, "source": None}


async def load_published(session: AsyncSession) -> dict[str, tuple[int, str]]:
    """Every live edited version: {name: (version, source)} (files are not listed)."""
    rows = await session.scalars(
        select(PublishedTemplate).where(PublishedTemplate.source.is_not(None))
    )
    return {r.name: (r.version, r.source) for r in rows if r.source is not None}


async def record_failures(session: AsyncSession, rows: list[TemplateFailure]) -> None:
    session.add_all(rows)


__all__ = [
    "CheckFailure",
    "TemplateState",
    "VersionError",
    "check_off_loop",
    "check_report",
    "check_report",
    "check_source",
    "default_source",
    "failures",
    "history",
    "live_source",
    "load_published",
    "preview",
    "publish",
    "read_generation",
    "reset",
    "rollback",
    "save_draft",
    "states",
]
