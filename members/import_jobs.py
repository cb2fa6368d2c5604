"""Order imports started from the console: the job row, the background run, history, presets.

``start_import`` writes a job row (``order_import_jobs``) and runs the import as an asyncio
task owned by the app (``JOBS``, set up by ``import_jobs_ctx``): parsing already happens in
a worker thread (``members/order_import.py``), batches commit separately, and after each
commit the job's ``done_rows`` and heartbeat are updated, so any process reading the table
shows the progress. When the rows are in, tiers are recomputed and announced and the job
holds the counts (new, updated, unchanged, unmatched, bad, upgrades, downgrades). A job
whose heartbeat stopped (the process died) is marked failed at the next start and whenever
the history is read.

Column mappings are remembered per platform (``order_mapping_presets``). This module does
not read the file's headers or dry-run it (``members/order_uploads.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import JSON, Index, Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base
from members.order_import import import_csv
from members.order_uploads import Upload, clean_uploads, upload_dir
from members.tier_recompute import recompute_all_tiers

if TYPE_CHECKING:
    from bot.dialog.context import Services

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED = "running", "done", "failed"
STALE_AFTER = timedelta(minutes=5)  # no heartbeat this long: the process running it died
PLATFORMS = {
    "1688": "1688 导出",
    "taobao": "淘宝/天猫 导出",
    "douyin": "抖店 导出",
    "other": "其他",
}


class ImportJob(Base):
    """One console import: who, when, which file, progress and the counts when done."""

    __tablename__ = "order_import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    total_rows: Mapped[int] = mapped_column(Integer)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(String(512), default=None)
    created_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_order_import_jobs_status", "status"),)

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        return min(99, self.done_rows * 100 // self.total_rows) if self.total_rows else 0


class MappingPreset(Base):
    """The column mapping last used for a platform's exports (e.g. "1688 导出")."""

    __tablename__ = "order_mapping_presets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


# --- presets -----------------------------------------------------------------------------


async def presets(session: AsyncSession) -> dict[str, dict[str, str]]:
    """Platform → its remembered mapping."""
    rows = await session.scalars(select(MappingPreset))
    return {p.platform: dict(p.mapping) for p in rows}


async def save_preset(
    session: AsyncSession, platform: str, mapping: Mapping[str, str], now: datetime
) -> MappingPreset:
    """Remember `mapping` for the platform (one preset per platform, replaced)."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    preset = await session.scalar(select(MappingPreset).where(MappingPreset.platform == platform))
    if preset is None:
        preset = MappingPreset(platform=platform, name=PLATFORMS[platform], mapping={})
        session.add(preset)
    preset.mapping, preset.updated_at = dict(mapping), now
    await session.flush()
    return preset


# --- jobs --------------------------------------------------------------------------------


async def fail_stale_jobs(session: AsyncSession, now: datetime) -> int:
    """Mark running jobs whose heartbeat stopped as failed; returns how many."""
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.status == RUNNING, ImportJob.heartbeat_at < now - STALE_AFTER)
        .values(status=FAILED, error="导入进程中断（服务重启或崩溃），请重新导入", finished_at=now)
    )
    return max(result.rowcount or 0, 0)


async def job_history(session: AsyncSession, now: datetime, limit: int = 20) -> list[ImportJob]:
    """The latest imports, newest first (stale running jobs are marked failed first)."""
    if await fail_stale_jobs(session, now):
        await session.commit()
    rows = await session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit))
    return list(rows)


async def get_job(session: AsyncSession, job_id: int) -> ImportJob | None:
    return await session.get(ImportJob, job_id, populate_existing=True)


JOBS = web.AppKey("order_import_jobs", set)


async def import_jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the background import tasks: fail jobs a dead process left, clean old uploads,
    and on shutdown cancel what still runs (those jobs are marked failed)."""
    from bot.appkeys import CLOCK, SESSIONMAKER

    tasks: set[asyncio.Task] = set()
    app[JOBS] = tasks
    try:
        async with app[SESSIONMAKER]() as session:
            # At start nothing of ours runs yet: only other processes' jobs can be alive.
            if await fail_stale_jobs(session, app[CLOCK].now()):
                await session.commit()
    except Exception:  # the database is down: serve anyway (/healthz says so); the
        # history marks stale jobs when it is next read.
        log.warning("could not check for interrupted order imports at start", exc_info=True)
    await asyncio.to_thread(clean_uploads, upload_dir())
    yield
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=10)


async def start_import(
    app: web.Application,
    sessionmaker: async_sessionmaker[AsyncSession],
    services: Services,
    upload: Upload,
    *,
    encoding: str,
    mapping: Mapping[str, str],
    total_rows: int,
    actor: str,
) -> ImportJob:
    """Create the job row and start the import in the background; returns the job."""
    now = services.clock.now()
    async with sessionmaker() as session, session.begin():
        job = ImportJob(
            upload_id=upload.upload_id, filename=upload.filename, actor=actor[:64],
            status=RUNNING, total_rows=total_rows, done_rows=0, created_at=now, heartbeat_at=now,
        )  # fmt: skip
        session.add(job)
        await session.flush()
        session.expunge(job)
    task = asyncio.create_task(
        run_import(sessionmaker, services, job.id, upload, encoding, dict(mapping))
    )
    tasks = app[JOBS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return job


async def _set(sessionmaker: async_sessionmaker[AsyncSession], job_id: int, **values) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    services: Services,
    job_id: int,
    upload: Upload,
    encoding: str,
    mapping: dict[str, str],
) -> None:
    """Import the file, recompute tiers, and record the outcome on the job row."""
    clock = services.clock

    async def progress(done: int) -> None:
        await _set(sessionmaker, job_id, done_rows=done, heartbeat_at=clock.now())

    try:
        with upload.path.open("rb") as raw:
            result = await import_csv(
                sessionmaker, raw, services.config.orders, clock.now(), mapping=mapping,
                encoding=encoding, progress=progress,
            )  # fmt: skip
        await _set(sessionmaker, job_id, done_rows=result.rows, heartbeat_at=clock.now())
        tiers = await recompute_all_tiers(sessionmaker, services)
        counts = {
            "rows": result.rows, "inserted": result.inserted, "updated": result.updated,
            "unchanged": result.unchanged, "matched": result.matched,
            "unmatched": result.rows - result.matched, "bad": result.bad_count,
            "upgrades": tiers.upgrades, "downgrades": tiers.downgrades,
        }  # fmt: skip
        await _set(
            sessionmaker, job_id, status=DONE, result=counts, finished_at=clock.now(),
            heartbeat_at=clock.now(),
        )  # fmt: skip
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(
                _set(
                    sessionmaker,
                    job_id,
                    status=FAILED,
                    error="服务停止，导入中断，请重新导入",
                    finished_at=clock.now(),
                )  # fmt: skip
            )
        raise
    except Exception as exc:  # the job must end marked, whatever went wrong
        log.exception("order import job %s failed", job_id)
        await _set(
            sessionmaker, job_id, status=FAILED, error=f"导入失败：{exc}"[:512],
            finished_at=clock.now(),
        )  # fmt: skip
