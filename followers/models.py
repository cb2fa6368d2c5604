"""The follower sync's tables: one row per sync job, and the openids its listing found.

A job row is the sync's progress and its checkpoint in one: ``phase`` (listing → detailing →
leavers → done), the ``next_openid`` cursor of the listing, ``detail_after`` (the last listed
openid detailed: details go through the listing in openid order), the counts shown to staff,
the API calls it used,
and who runs it (``holder``, ``heartbeat_at``). Every page and batch commits its rows and the
job's new checkpoint in one transaction, so a job cut off anywhere resumes exactly there.

``follower_sync_listing`` holds the openids of one job's listing (a page fetched twice after a
crash adds nobody twice): the details phase walks it, and the leavers phase asks it who is
*not* following any more. It is emptied when the job ends. This module declares tables and words only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base

# status
RUNNING = "running"
PAUSED = "paused"  # the day's API quota is spent: goes on after midnight (Beijing)
INTERRUPTED = "interrupted"  # the process stopped or WeChat could not be reached: resumable
FAILED = "failed"  # WeChat refused (no permission, wrong credentials): resumed only by hand
DONE = "done"
ABANDONED = "abandoned"  # unfinished for too long: a fresh sync replaced it
UNFINISHED = (RUNNING, PAUSED, INTERRUPTED, FAILED)

# Why a job stopped with its process: resumed at the next chance, not after RETRY_AFTER.
STOPPED_REASON = "同步中断（服务停止），下次启动后自动继续"

# phase
LISTING = "listing"
DETAILING = "detailing"
LEAVERS = "leavers"
FINISHED = "done"

# trigger
TRIGGERS = ("console", "api", "cli", "daily", "demo", "resume")


class FollowerSyncJob(Base):
    __tablename__ = "follower_sync_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    total: Mapped[int] = mapped_column(Integer, default=0)  # followers, as WeChat counts them
    listed: Mapped[int] = mapped_column(Integer, default=0)
    detailed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    left_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # Checkpoint: the listing's cursor, and the last listed openid whose details are stored.
    next_openid: Mapped[str | None] = mapped_column(String(64), default=None)
    detail_after: Mapped[str | None] = mapped_column(String(64), default=None)
    calls_list: Mapped[int] = mapped_column(Integer, default=0)
    calls_detail: Mapped[int] = mapped_column(Integer, default=0)
    # The earliest imported follow/unfollow: the dashboard's counts from then on are retaken.
    earliest_event_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(512), default=None)  # for staff, Chinese

    __table_args__ = (Index("ix_follower_sync_jobs_status", "status"),)

    @property
    def percent(self) -> int:
        """Progress for a bar: listing is a tenth of the work, details the rest."""
        if self.phase == FINISHED:
            return 100
        if self.phase == LISTING:
            return min(10, self.listed * 10 // self.total) if self.total else 0
        if self.phase == DETAILING and self.listed:
            return 10 + min(89, self.detailed * 89 // self.listed)
        return 99


class ListedFollower(Base):
    """One openid the job's listing found."""

    __tablename__ = "follower_sync_listing"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
