"""营销 → 活动日历: every campaign step due in a month or week, in Beijing time (the
campaigns' time zone), with the segment and how many buyers it would reach, and the days
where pushes collide: two campaigns reaching the same buyers, or more pushes than the
per-buyer caps let through (those buyers are held back).

Read-only, for every role (viewers see campaign reports). The figures come from
``scheduler.calendar`` in one scan; this page only lays them out. Changing a campaign is the
campaigns page's job.
"""

from __future__ import annotations

import calendar as months
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console.registry import PageRoutes
from console.rendering import render
from scheduler.calendar import Caps, calendar

page = PageRoutes()
PATH = "/admin/campaigns/calendar"
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
STATUS = {"draft": "草稿", "scheduled": "已排期", "running": "发送中", "paused": "已暂停"}


def step_label(kind: str, offset_s: int | None) -> str:
    """A step as staff name it: 直播公告, 提前 1 小时提醒, 开播提醒, 召回, 群发."""
    if kind == "reminder" and offset_s:
        hours = offset_s / 3600
        if hours >= 24 and hours % 24 == 0:
            return f"提前 {int(hours // 24)} 天提醒"
        return f"提前 {hours:g} 小时提醒" if hours >= 1 else f"提前 {offset_s // 60} 分钟提醒"
    return {"announce": "直播公告", "reminder": "提醒", "start": "开播提醒", "wave": "召回",
            "broadcast": "群发", "daily": "每日补货提醒"}.get(kind, kind)  # fmt: skip


def _anchor(raw: str, today: date) -> tuple[date, str]:
    if not raw:
        return today, ""
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        return today, "日期格式应为 2026-05-18，已显示本月"
    if not 2000 <= day.year <= 2100:
        return today, "日期超出范围，已显示本月"
    return day, ""


@page.get(PATH, role="viewer")
async def calendar_page(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[CONFIG]
    tz = ZoneInfo(config.campaigns.timezone)
    now = request.config_dict[CLOCK].now()
    today = now.astimezone(tz).date()
    view = "week" if request.query.get("view") == "week" else "month"
    anchor, error = _anchor(request.query.get("date", ""), today)
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        grid_start, grid_end = first, first + timedelta(days=6)
        prev, nxt = first - timedelta(days=7), first + timedelta(days=7)
        title = f"{first:%Y-%m-%d} 起一周"
    else:
        first = anchor.replace(day=1)
        last = first.replace(day=months.monthrange(first.year, first.month)[1])
        grid_start = first - timedelta(days=first.weekday())
        grid_end = last + timedelta(days=6 - last.weekday())
        prev = (first - timedelta(days=1)).replace(day=1)
        nxt = last + timedelta(days=1)
        title = f"{first.year} 年 {first.month} 月"
    caps = Caps(config.campaigns.cap_per_day, config.campaigns.cap_per_week)
    async with request.config_dict[SESSIONMAKER]() as session:
        cal = await calendar(session, grid_start, grid_end, tz, caps, now)
    by_day: dict[date, list] = {}
    for step in cal.steps:
        by_day.setdefault(step.day, []).append(step)
    weeks = []
    day = grid_start
    while day <= grid_end:
        monday = day
        cells = [monday + timedelta(days=i) for i in range(7)]
        weeks.append((monday, cells))
        day = monday + timedelta(days=7)
    return render(
        request,
        "calendar.html",
        {"title": "活动日历", "view": view, "heading": title, "weeks": weeks, "by_day": by_day,
         "days": cal.days, "week_notes": cal.weeks, "truncated": cal.truncated, "caps": caps,
         "anchor": anchor, "today": today, "prev": prev, "next": nxt, "error": error,
         "month": first.month if view == "month" else None, "weekdays": WEEKDAYS,
         "step_label": step_label, "status_labels": STATUS, "tz": tz,
         "steps_count": len(cal.steps)},
    )  # fmt: skip
