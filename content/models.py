"""The tables of editable content: template versions, what is published, send-time failures,
the publish generation every process polls, and template-message mappings.

Version rows are never changed after they are written: an edit, a rollback and a reset each
add one. ``published_templates`` says which version of each template is live (none: the
file); ``content_generation`` is one row whose counter goes up on every publish, so a process
notices a publish with one cheap query. The queries live in ``template_versions.py`` and
``template_messages.py``, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

EDIT, ROLLBACK, RESET = "edit", "rollback", "reset"


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_template_versions_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)  # None: the file (a reset)
    kind: Mapped[str] = mapped_column(String(16))  # edit, rollback, reset
    from_version: Mapped[int | None] = mapped_column(Integer)  # a rollback's source
    author_id: Mapped[int | None] = mapped_column(Integer)
    author_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class PublishedTemplate(Base):
    __tablename__ = "published_templates"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)  # None: the file
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]


class TemplateFailure(Base):
    __tablename__ = "template_failures"
    __table_args__ = (Index("ix_template_failures_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    buyer_id: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime]


class ContentGeneration(Base):
    __tablename__ = "content_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    generation: Mapped[int] = mapped_column(Integer)


class TemplateMessageMapping(Base):
    __tablename__ = "template_message_mappings"

    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(128))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"thing1": "{tier_name}", …}
    url: Mapped[str] = mapped_column(String(1024), default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
