"""客户 → 分群: build a segment from rows of 字段 · 条件 · 值, watch its counts, save it.

Left: the saved segments (count, 被 N 个活动使用); centre: the builder and its one-sentence
summary; right: 匹配 · 可触达 · 窗口内 · 仅模板 and five sample buyers. As the operator edits,
htmx posts the form to ``/admin/segments/preview`` (400 ms after the last change; a newer
request replaces an older one) and swaps the counts, the summary and each row's error. Every
action also works as a plain form: the builder endpoints answer a full page without
``HX-Request``, and saving, renaming and deleting redirect (POST-redirect-GET).

Checking is the API's: ``compile_segment`` with the configured ``Vocabulary``; storage is
``scheduler.saved_segments`` and ``scheduler.segment_library``. Operators and admins only.
"""

from __future__ import annotations

import json
import time
import weakref
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.pages.segment_tags import segment_tag_view, start_from_console
from console.registry import PageRoutes
from console.rendering import BEIJING, render
from console.segment_builder import (
    CUSTOMER_LABELS,
    FIELD_GROUPS,
    FIELD_LABELS,
    MODES,
    OP_LABELS,
    Group,
    Row,
    apply_action,
    from_form,
    from_spec,
    place_error,
    to_spec,
)
from console.segment_summary import summarize
from console.segment_words import problem_in_chinese
from members.card.choices import BUSINESS_TYPES
from members.tiers import current_tiers
from scheduler.saved_segments import (
    SegmentExists,
    SegmentNotFound,
    create_segment,
    get_segment,
    preview_segment,
    update_segment,
)
from scheduler.segment_library import (
    SegmentBlocked,
    delete_unused_segment,
    latest_livestream,
    library,
    rename_segment,
    segment_snapshot,
    suggestions,
)
from scheduler.segments import SegmentError, Vocabulary

page = PageRoutes()
PATH = "/admin/segments"
MAX_JSON = 20_000
MAX_DESCRIPTION = 1000
SAMPLE = 5
SUGGEST_TTL_S = 600
_SUGGEST_CACHE: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def _vocabulary(request: web.Request) -> Vocabulary:
    """The values segments may use now: the configured interests and the tier ladder in
    force, so a tier an admin adds on 会员等级 is a value at once."""
    config = request.config_dict[CONFIG]
    async with request.config_dict[SESSIONMAKER]() as session:
        tiers = await current_tiers(session, config.tiers)
    return Vocabulary.from_config(config, tiers)


async def _tier_names(request: web.Request) -> dict[str, str]:
    return dict((await _vocabulary(request)).tier_names)


def _starters(request: web.Request, livestream: int | None) -> dict[str, list[Group]]:
    levels = sorted(request.config_dict[CONFIG].tiers.levels, key=lambda lv: -lv.rank)
    top = levels[0].name if levels else ""
    return {
        "沉睡金卡": [
            Group("all", [Row("tier", "eq", top), Row("days_since_interaction", "gte", "30")]),
            Group("not", [Row("opted_out", "eq", "true")]),
        ],
        "广东老客": [
            Group("all", [Row("region", "eq", "广东"), Row("customer", "eq", "returning")])
        ],
        "直播预约者": [Group("all", [Row("rsvp", "eq", str(livestream or ""))])],
    }


def _parse_json(text: str) -> tuple[Any, str]:
    if len(text) > MAX_JSON:
        return None, f"JSON 太长（最多 {MAX_JSON:,} 个字符）"
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"JSON 格式错误：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}"
    except RecursionError:
        return None, "JSON 嵌套过深"


async def _evaluate(
    request: web.Request, session: Any, groups: list[Group] | None, raw: str
) -> dict[str, Any]:
    """Spec, summary, errors and (when the spec is valid) the preview, from one scan."""
    known = await _vocabulary(request)
    ctx: dict[str, Any] = {"spec_error": "", "preview": None, "summary": "", "elapsed": "",
                           "tier_names": dict(known.tier_names)}  # fmt: skip
    if groups is None:
        spec, problem = _parse_json(raw)
        built = None
        if problem:
            ctx |= {"spec": None, "spec_json": raw, "spec_error": problem}
            return ctx
    else:
        built = to_spec(groups, known)
        spec = built.spec
    ctx["spec"], ctx["spec_json"] = spec, json.dumps(spec, ensure_ascii=False, indent=2)
    if groups is None:
        ctx["spec_json"] = raw
    if built is not None and built.errors:
        return ctx
    now = request.config_dict[CLOCK].now()
    started = time.perf_counter()
    try:
        preview = await preview_segment(session, spec, now, SAMPLE, vocabulary=known)
    except SegmentError as exc:
        if built is None or not place_error(groups or [], built, exc.path, exc.problem):
            ctx["spec_error"] = f"位置 {exc.path}：{problem_in_chinese(exc.problem)}"
        return ctx
    ctx["preview"] = preview
    ctx["elapsed"] = f"{time.perf_counter() - started:.2f}"
    ctx["computed_at"] = now.astimezone(BEIJING).strftime("%H:%M")
    ctx["summary"] = summarize(spec, ctx["tier_names"])
    return ctx


async def _page(
    request: web.Request,
    groups: list[Group] | None,
    *,
    raw: str = "",
    status: int = 200,
    template: str = "segments.html",
    **extra: Any,
) -> web.Response:
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session:
        ctx = await _evaluate(request, session, groups, raw)
        if template == "segments.html":
            ctx["entries"] = await library(session, now)
            ctx["starters"] = _starters(request, await latest_livestream(session))
        if template != "segments/_preview.html":  # the counts partial offers no values
            ctx["suggest"] = await _suggestions(request, session)
    if extra.get("original") and template != "segments/_preview.html":
        extra["wechat_tag"] = await segment_tag_view(request, extra["original"])
    ctx |= {
        "groups": groups, "mode": "json" if groups is None else "builder",
        "name": "", "original": "", "description": "", "error": "", "oob": False,
        "field_groups": FIELD_GROUPS, "field_labels": FIELD_LABELS, "op_labels": OP_LABELS,
        "modes": MODES, "tier_names": ctx["tier_names"], "customer_labels": CUSTOMER_LABELS,
        "business_types": BUSINESS_TYPES, "title": "分群",
    } | extra  # fmt: skip
    return render(request, template, ctx, status=status)


async def _suggestions(request: web.Request, session: Any) -> dict[str, Any]:
    """The values offered per field with their counts, cached for SUGGEST_TTL_S per database
    (at a million buyers the interest counts are a full scan)."""
    key = request.config_dict[SESSIONMAKER]
    cached = _SUGGEST_CACHE.get(key)
    if cached and time.monotonic() - cached[0] < SUGGEST_TTL_S:
        return cached[1]
    found = await suggestions(session, await _vocabulary(request))
    _SUGGEST_CACHE[key] = (time.monotonic(), found)
    return found


def _from_request(form: Any) -> tuple[list[Group] | None, str]:
    raw = str(form.get("spec_json", ""))
    if form.get("mode") == "json":
        return None, raw
    return from_form(form), raw


def _names(form: Any) -> dict[str, str]:
    return {
        "name": str(form.get("name", "")).strip()[:64],
        "original": str(form.get("original", "")).strip()[:64],
        "description": str(form.get("description", "")).strip()[:MAX_DESCRIPTION],
    }


@page.get(PATH, role="operator")
async def segments(request: web.Request) -> web.StreamResponse:
    name = request.query.get("name", "")[:64]
    starter = request.query.get("starter", "")[:16]
    if name:
        return await _open(request, name)
    if starter:
        async with request.config_dict[SESSIONMAKER]() as session:
            starters = _starters(request, await latest_livestream(session))
        if starter in starters:
            return await _page(request, starters[starter], name=starter)
    return await _page(request, [Group("all", [Row()])])


async def _open(request: web.Request, name: str, **extra: Any) -> web.Response:
    """The builder filled with the saved segment `name` (404 when there is none)."""
    async with request.config_dict[SESSIONMAKER]() as session:
        try:
            segment = await get_segment(session, name)
        except SegmentNotFound:
            raise web.HTTPNotFound(text="没有这个分群") from None
    raw = json.dumps(segment.spec, ensure_ascii=False, indent=2)
    extra.setdefault("tag_error", "")
    groups = from_spec(segment.spec, await _tier_names(request))
    return await _page(
        request, groups, raw=raw, name=segment.name, original=segment.name,
        description=segment.description, **extra,
    )  # fmt: skip


@page.post(PATH + "/wechat-tag", role="operator")
async def wechat_tag(request: web.Request) -> web.StreamResponse:
    """同步为公众号标签: refusals are shown on the segment's page, in Chinese."""
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    error = await start_from_console(request, name, str(form.get("tag_name", ""))[:64] or None)
    if error:
        return await _open(request, name, status=409, tag_error=error)
    return redirect(request, f"{PATH}?name={quote(name)}#wechat-tag")


@page.post(PATH + "/preview", role="operator")
async def preview(request: web.Request) -> web.StreamResponse:
    """The counts for the form as it stands (nothing is stored, so nothing is audited)."""
    form = await request.post()
    groups, raw = _from_request(form)
    if request.headers.get("HX-Request"):
        return await _page(request, groups, raw=raw, template="segments/_preview.html", oob=True)
    return await _page(request, groups, raw=raw, **_names(form))


@page.post(PATH + "/builder", role="operator")
async def builder(request: web.Request) -> web.StreamResponse:
    """The builder after a change of field or condition, an added or removed row or group,
    or JSON applied from 高级 (nothing is stored, so nothing is audited)."""
    form = await request.post()
    groups, raw = _from_request(form)
    action = str(form.get("act", ""))[:32]
    if action == "json":
        spec, problem = _parse_json(raw)
        groups = None if problem else from_spec(spec, await _tier_names(request))
    elif action == "builder":
        spec, problem = _parse_json(raw)
        groups = (None if problem else from_spec(spec, await _tier_names(request))) or [
            Group("all", [Row()])
        ]
    elif groups is not None:
        groups = apply_action(groups, action)
    template = "segments/_workspace.html" if request.headers.get("HX-Request") else "segments.html"
    return await _page(request, groups, raw=raw, template=template, **_names(form))


@page.post(PATH + "/save", role="operator")
async def save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    groups, raw = _from_request(form)
    names = _names(form)
    now = request.config_dict[CLOCK].now()
    if groups is None:
        spec, error = _parse_json(raw)
    else:
        built = to_spec(groups, await _vocabulary(request))
        spec, error = built.spec, "请先改正标出的条件" if built.errors else ""
    if not error:
        error = await _store(request, spec, names, now)
    if error:
        return await _page(request, groups, raw=raw, status=400, error=error, **names)
    return redirect(request, f"{PATH}?name={quote(names['name'])}")


async def _store(request: web.Request, spec: Any, names: dict[str, str], now: Any) -> str:
    """Create or change (and maybe rename) the segment; a Chinese error, or "" when saved."""
    actor, vocabulary = actor_of(request), await _vocabulary(request)
    name, original = names["name"], names["original"]
    try:
        async with request.config_dict[SESSIONMAKER].begin() as session:
            if original:
                old = segment_snapshot(await get_segment(session, original))
                segment = await update_segment(
                    session, original, now, spec, names["description"], vocabulary=vocabulary
                )
                if name != original:
                    segment = await rename_segment(session, original, name, now)
                action = "segment.update" if name == original else "segment.rename"
            else:
                old = None
                segment = await create_segment(
                    session, name, spec, now, names["description"], vocabulary=vocabulary
                )
                action = "segment.create"
            audit.record(
                session, actor, action, ("segment", segment.id), old, segment_snapshot(segment),
                at=now,
            )  # fmt: skip
    except SegmentError as exc:
        if exc.path == "name":
            return "名称需为 1–64 个字（汉字、字母、数字或 _ - . ·）"
        return f"分群条件有误（位置 {exc.path}）：{problem_in_chinese(exc.problem)}"
    except SegmentExists:
        return f"已有名为「{name}」的分群，请换一个名称"
    except SegmentNotFound:
        return f"分群「{original}」已不存在"
    return ""


@page.post(PATH + "/delete", role="operator")
async def delete(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    now = request.config_dict[CLOCK].now()
    if str(form.get("confirm", "")).strip() != name:  # irreversible: type the name
        return await _open(request, name, status=400, error=f"请输入分群名称「{name}」以确认删除")
    try:
        async with request.config_dict[SESSIONMAKER].begin() as session:
            segment = await delete_unused_segment(session, name)
            audit.record(
                session, actor_of(request), "segment.delete", ("segment", segment.id),
                segment_snapshot(segment), None, at=now,
            )  # fmt: skip
    except SegmentBlocked as exc:
        used = "、".join(f"「{c.name}」（#{c.id}）" for c in exc.campaigns)
        error = f"分群「{name}」正被 {len(exc.campaigns)} 个活动使用，不能删除：{used}"
        return await _open(request, name, status=409, error=error)
    except SegmentNotFound:
        raise web.HTTPNotFound(text="没有这个分群") from None
    return redirect(request, PATH)


@page.post(PATH + "/from-spec", role="operator")
async def from_spec_endpoint(request: web.Request) -> web.StreamResponse:
    """存为分群 from the buyer list or a dashboard figure: a name and a JSON spec, checked and
    saved like any segment, then the segment opens in the builder."""
    form = await request.post()
    names = _names(form) | {"original": ""}
    raw = str(form.get("spec", ""))
    spec, error = _parse_json(raw)
    if not error and not isinstance(spec, dict):
        error = "分群条件必须是 JSON 对象"
    if not error:
        error = await _store(request, spec, names, request.config_dict[CLOCK].now())
    if error:
        groups = from_spec(spec, await _tier_names(request)) if isinstance(spec, dict) else None
        return await _page(request, groups, raw=raw, status=400, error=error, **names)
    return redirect(request, f"{PATH}?name={quote(names['name'])}")
