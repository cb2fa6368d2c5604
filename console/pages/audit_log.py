"""设置 → 操作日志: admins browse the audit log by actor, object, action and date, and export
the same selection as CSV (UTF-8 with BOM, formulas neutralised).

Filters are GET parameters, so a filtered view is a link. Dates are Beijing calendar days.
The page pages by id (``before``), 50 rows at a time; the export is capped at
``EXPORT_LIMIT`` rows, newest first.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiohttp import web

from bot.appkeys import SESSIONMAKER
from console.audit import AuditFilter, entries_csv, find_entries
from console.labels import OBJECT_TYPES, audit_filter_choices
from console.registry import PageRoutes
from console.rendering import BEIJING, render

page = PageRoutes()
PATH = "/admin/settings/audit"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


def _day(value: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(value), time(0), BEIJING)
    except ValueError:
        return None


def _filters(query) -> tuple[AuditFilter, dict[str, str]]:
    raw = {k: query.get(k, "").strip()[:64] for k in ("actor", "object_type", "object_id",
                                                      "action", "since", "until")}  # fmt: skip
    until = _day(raw["until"])
    return (
        AuditFilter(
            actor=raw["actor"],
            object_type=raw["object_type"],
            object_id=raw["object_id"],
            action=raw["action"],
            since=_day(raw["since"]),
            until=until + timedelta(days=1) if until else None,
        ),
        raw,
    )


@page.get(PATH, role="admin")
async def audit_log(request: web.Request) -> web.StreamResponse:
    filters, raw = _filters(request.query)
    try:
        before = int(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        before = None
    async with request.config_dict[SESSIONMAKER]() as session:
        entries = await find_entries(session, filters, before_id=before, limit=PAGE_SIZE + 1)
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    query = {k: v for k, v in raw.items() if v}
    return render(
        request,
        "settings/audit.html",
        {
            "entries": entries,
            "filters": raw,
            "query": query,
            "next_before": entries[-1].id if more else None,
            "object_types": OBJECT_TYPES,
            "actions": audit_filter_choices(),
        },
    )


@page.get(PATH + ".csv", role="admin")
async def audit_csv(request: web.Request) -> web.StreamResponse:
    filters, _raw = _filters(request.query)
    async with request.config_dict[SESSIONMAKER]() as session:
        entries = await find_entries(session, filters, limit=EXPORT_LIMIT)
    return web.Response(
        body=entries_csv(entries),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="audit-log.csv"',
            "Cache-Control": "no-store",
        },
    )
