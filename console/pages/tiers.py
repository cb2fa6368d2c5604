"""会员等级: the ladder as cards, who is about to drop, manual tiers, recent changes, unmatched
orders; operators set a tier by hand and recompute; admins edit the ladder.

Editing the ladder is a GET form that previews the moves (a dry run over every buyer's
stored figures, nothing written, no notices) and a POST that saves it, audited with
before/after (``members/tier_rules.py``). Saving changes nobody's tier: 重算 (or the next
import or nightly run) applies it and announces the changes.
"""

from __future__ import annotations

from datetime import date, datetime, time

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import CLOCK, SERVICES, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.registry import PageRoutes
from console.rendering import BEIJING, render
from members.tier_notices import deliver_pending_notices
from members.tier_recompute import recompute_all_tiers
from members.tier_rules import TierRuleError, parse_levels, preview_moves, save_levels
from members.tier_views import (
    about_to_drop,
    find_buyer,
    list_orders,
    manual_tiers,
    members_per_tier,
    recent_changes,
)
from members.tiers import Ladder, TierError, current_tiers, set_manual_tier

page = PageRoutes()
PATH = "/admin/tiers"
TABS = {"risk": "即将降级", "manual": "手动等级", "changes": "最近变动", "unmatched": "未匹配订单"}
REASONS = {
    "orders": "订单变化", "grace_ended": "宽限期结束", "manual": "手动设置",
    "manual_expired": "手动等级到期", "manual_cleared": "改回按订单",
}  # fmt: skip
LEVEL_FIELDS = ("key", "name", "rank", "min_spend", "min_orders", "perks", "badge", "grace_days")


async def _tiers(session: AsyncSession, request: web.Request):
    return await current_tiers(session, request.config_dict[SERVICES].config.tiers)


async def _page(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    tab = request.query.get("tab", "risk")
    tab = tab if tab in TABS else "risk"
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        tiers = await _tiers(session, request)
        ladder = Ladder(tiers)
        counts = await members_per_tier(session)
        lists = {
            "risk": lambda: about_to_drop(session, ladder, now),
            "manual": lambda: manual_tiers(session),
            "changes": lambda: recent_changes(session),
            "unmatched": lambda: list_orders(session, matched=False, before_id=None),
        }
        rows = await lists[tab]()
    return render(request, "tiers.html", {
        "ladder": ladder, "counts": counts, "tab": tab, "tabs": TABS, "rows": rows,
        "reasons": REASONS, "window": tiers.window_months, "error": None, "notice": None,
    } | extra, status=status)  # fmt: skip


@page.get(PATH, role="viewer")
async def tiers_page(request: web.Request) -> web.StreamResponse:
    notice = None
    if request.query.get("saved"):
        notice = "等级规则已保存。点「重算全部等级」或等下次导入、夜间重算时生效。"
    elif request.query.get("up") is not None and request.query.get("down") is not None:
        up, down = request.query.get("up", "0")[:9], request.query.get("down", "0")[:9]
        notice = f"已重算全部等级：{up} 人升级，{down} 人降级。"
    elif request.query.get("set"):
        notice = "已设置该买家的等级。"
    return await _page(request, notice=notice)


def _rows(source) -> list[dict[str, str]]:
    columns = {f: [str(v)[:200] for v in source.getall(f, [])] for f in LEVEL_FIELDS}
    count = min(len(columns["key"]), 12)
    return [{f: (columns[f][i] if i < len(columns[f]) else "") for f in LEVEL_FIELDS}
            for i in range(count)]  # fmt: skip


def _form_rows(levels) -> list[dict[str, str]]:
    rows = [
        {"key": t.key, "name": t.name, "rank": str(t.rank),
         "min_spend": "" if t.min_spend is None else f"{t.min_spend:g}",
         "min_orders": "" if t.min_orders is None else str(t.min_orders),
         "perks": "，".join(t.perks), "badge": t.badge, "grace_days": str(t.grace_days)}
        for t in sorted(levels, key=lambda t: t.rank)
    ]  # fmt: skip
    return rows + [dict.fromkeys(LEVEL_FIELDS, "")]


@page.get(PATH + "/edit", role="admin")
async def edit(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONMAKER]() as session:
        tiers = await _tiers(session, request)
        rows, moves, error = _form_rows(tiers.levels), None, None
        if "key" in request.query:
            rows = _rows(request.query) + [dict.fromkeys(LEVEL_FIELDS, "")]
            try:
                moves = await preview_moves(session, tiers, parse_levels(rows))
            except TierRuleError as exc:
                error = str(exc)
    return render(request, "tiers_edit.html", {"rows": rows, "moves": moves, "error": error},
                  status=400 if error else 200)  # fmt: skip


@page.post(PATH + "/rules", role="admin")
async def save_rules(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    rows = _rows(form)
    actor = actor_of(request)
    now = request.config_dict[CLOCK].now()
    try:
        levels = parse_levels(rows)
        async with request.config_dict[SESSIONMAKER]() as session, session.begin():
            tiers = await _tiers(session, request)
            before, after = await save_levels(session, tiers, levels, actor.name, now)
            audit.record(session, actor, "tiers.rules", ("tier_rules", 1), {"levels": before},
                         {"levels": after}, at=now)  # fmt: skip
    except TierRuleError as exc:
        return render(request, "tiers_edit.html",
                      {"rows": rows + [dict.fromkeys(LEVEL_FIELDS, "")], "moves": None,
                       "error": str(exc)}, status=400)  # fmt: skip
    return redirect(request, PATH + "?saved=1")


def _until(value: str) -> datetime | None:
    """A Beijing date (end of that day) → aware datetime; "" → None."""
    if not value.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(23, 59, 59), BEIJING)
    except ValueError:
        raise TierError("until", "到期日期格式应为 2026-06-30") from None


@page.post(PATH + "/manual", role="operator")
async def manual(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    services = request.config_dict[SERVICES]
    maker = request.config_dict[SESSIONMAKER]
    actor = actor_of(request)
    try:
        raw_id = str(form.get("buyer_id", "")).strip().lstrip("#")
        if not raw_id.isdigit() or len(raw_id) > 12:
            raise TierError("buyer_id", "请填写买家编号（数字）")
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise TierError("reason", "请填写手动定级的原因")
        if len(reason) > 200:
            raise TierError("reason", "原因最多 200 个字")
        key = str(form.get("key", "")).strip() or None
        until = _until(str(form.get("until", "")))
        async with maker() as session, session.begin():
            buyer = await find_buyer(session, int(raw_id))
            if buyer is None:
                raise TierError("buyer_id", f"找不到编号为 {raw_id} 的买家")
            before = {"tier": buyer.tier_key, "manual": buyer.tier_manual_key}
            change = await set_manual_tier(session, buyer, key, reason=reason, until=until,
                                           services=services)  # fmt: skip
            audit.record(session, actor, "tiers.manual", ("buyer", buyer.id), before,
                         {"tier": change.to_key, "manual": key, "reason": reason,
                          "until": until.isoformat() if until else None},
                         at=services.clock.now())  # fmt: skip
            buyer_id = buyer.id
    except TierError as exc:
        message = str(exc)
        if exc.field == "key":
            message = "没有这个等级"
        elif exc.field == "until" and "past" in message:
            message = "到期日期已经过去"
        return await _page(request, status=400, error=message)
    await deliver_pending_notices(maker, services, buyer_id=buyer_id)
    return redirect(request, PATH + "?tab=manual&set=1")


@page.post(PATH + "/recompute", role="operator")
async def recompute(request: web.Request) -> web.StreamResponse:
    services = request.config_dict[SERVICES]
    maker = request.config_dict[SESSIONMAKER]
    result = await recompute_all_tiers(maker, services)
    async with maker() as session, session.begin():
        audit.record(session, actor_of(request), "tiers.recompute", ("tiers", "all"), None,
                     {"upgrades": result.upgrades, "downgrades": result.downgrades,
                      "changes": result.changes}, at=services.clock.now())  # fmt: skip
    return redirect(request, f"{PATH}?tab=changes&up={result.upgrades}&down={result.downgrades}")
