"""Published template versions inside a running process, and the loop that keeps them fresh.

``PublishedTemplates`` is the renderer's override source (``Renderer.override_source``): for
a template with a live edited version it renders that version with the documented plain
variables only (``content/samples.py``). When that render fails or comes out empty for a
real buyer, it returns None — the renderer then renders the file, so the buyer still gets a
proper message — and keeps the failure, which ``follow_published`` writes to
``template_failures`` for the template's console page. ``follow_published`` polls the
``content_generation`` counter every second and reloads on change, so a publish reaches every
``serve`` and ``worker`` process within about a second, without a restart. This module does
not decide what may be published (``template_versions.py``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from jinja2 import Template
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.dialog.rendering import Renderer
from bot.sandbox import RenderError, as_render_error, render_checked
from bot.wechat.template_messages import TemplateMessageBook
from content.catalogue import CATALOGUE
from content.models import TemplateFailure
from content.samples import plain_variables
from content.template_messages import layouts, mappings
from content.template_versions import load_published, read_generation, record_failures

log = logging.getLogger(__name__)

POLL_S = 1.0
MAX_PENDING = 1_000  # failures kept between two writes (a broken version fails for everyone)


class PublishedTemplates:
    """The live edited versions of one process (installed as the renderer's override source)."""

    def __init__(self, renderer: Renderer, book: TemplateMessageBook | None = None) -> None:
        self.renderer = renderer
        self.book = book  # the process's template-message layouts, reloaded with templates
        self.generation = -1
        self._live: dict[str, tuple[int, Template]] = {}
        self.pending: list[TemplateFailure] = []
        renderer.override_source = self

    def load(self, generation: int, published: dict[str, tuple[int, str]]) -> None:
        live = {}
        for name, (version, source) in published.items():
            if name not in CATALOGUE:
                continue
            try:
                live[name] = (version, self.renderer.env.from_string(source))
            except Exception:  # checked before publishing; a failure here means the file
                log.exception("published template %s v%s does not compile", name, version)
        self._live, self.generation = live, generation

    def live(self, name: str) -> tuple[int, Template] | None:
        """The published version of `name` and its compiled template, if one is live (campaign
        messages render it themselves, ``scheduler/messages.py``)."""
        return self._live.get(name)

    def failed(self, name: str, version: int, exc: Exception, buyer_id: int | None) -> None:
        """Keep a send-time failure of a published version for the template's console page."""
        exc = exc if isinstance(exc, RenderError) else as_render_error(exc)
        log.warning("template %s v%s failed, sending the default: %s", name, version, exc)
        if len(self.pending) < MAX_PENDING:
            self.pending.append(
                TemplateFailure(
                    name=name,
                    version=version,
                    buyer_id=buyer_id,
                    line=exc.line,
                    reason=exc.reason[:500],
                    at=Clock().now(),
                )
            )

    def render(self, name: str, variables: dict[str, Any]) -> str | None:
        entry = self._live.get(name)
        if entry is None:
            return None
        version, template = entry
        try:
            plain = plain_variables(CATALOGUE[name], variables)
            text = render_checked(partial(template.render, plain)).strip()
            if not text:
                raise RenderError("渲染结果为空")
            return text
        except Exception as exc:  # whatever went wrong, the buyer gets the file's text
            buyer = variables.get("buyer")
            buyer_id = vars(buyer).get("id") if hasattr(buyer, "__dict__") else None
            self.failed(name, version, exc, buyer_id)
            return None


async def refresh(session: AsyncSession, source: PublishedTemplates) -> bool:
    """Reload `source` when the generation moved and write its pending failures (one
    transaction; the caller commits). True when it reloaded."""
    reloaded = False
    generation = await read_generation(session)
    if generation != source.generation:
        source.load(generation, await load_published(session))
        if source.book is not None:
            source.book.overrides = layouts(await mappings(session))
        reloaded = True
    if source.pending:
        rows, source.pending = source.pending, []
        await record_failures(session, rows)
    return reloaded


async def refresh_now(sessions: async_sessionmaker[AsyncSession], renderer: Renderer) -> None:
    """After a publish in this process: reload at once instead of at the next poll."""
    source = renderer.override_source
    if isinstance(source, PublishedTemplates):
        async with sessions() as session, session.begin():
            await refresh(session, source)


async def follow_published(
    sessions: async_sessionmaker[AsyncSession], source: PublishedTemplates, every: float = POLL_S
) -> None:
    """Keep `source` fresh until cancelled."""
    while True:
        try:
            async with sessions() as session, session.begin():
                await refresh(session, source)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database is away: keep the last versions, try again
            log.warning("could not refresh published templates", exc_info=True)
        await asyncio.sleep(every)


async def start(
    sessions: async_sessionmaker[AsyncSession],
    renderer: Renderer,
    book: TemplateMessageBook | None = None,
) -> tuple[PublishedTemplates, asyncio.Task]:
    """Install the live versions into `renderer` (and template-message layouts into `book`)
    now, and a task keeping them fresh."""
    source = PublishedTemplates(renderer, book)
    try:
        async with sessions() as session, session.begin():
            await refresh(session, source)
    except Exception:
        log.warning("could not load published templates; the files are used", exc_info=True)
    return source, asyncio.create_task(follow_published(sessions, source))


__all__ = ["PublishedTemplates", "follow_published", "refresh", "refresh_now", "start"]
