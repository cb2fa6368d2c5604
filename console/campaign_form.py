"""The campaign editor's form: from posted fields to the API's own campaign spec, with the
errors in Chinese on the fields they concern, and the labels the campaign pages show.

The form validates with the SAME pydantic specs as ``/api/campaigns…``
(``scheduler/campaigns.py`` LivestreamSpec / RecallSpec / BroadcastSpec) and the same
creation checks (``scheduler/campaigns_api.py``); this module only translates between form
fields (Beijing wall-clock times, hours, checkboxes) and spec fields, and between the specs'
English messages and the operator's Chinese. It does not save anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from scheduler.campaigns import BroadcastSpec, LivestreamSpec, RecallSpec

SPECS = {"livestream": LivestreamSpec, "recall": RecallSpec, "broadcast": BroadcastSpec}
KIND_LABELS = {"livestream": "直播预告", "recall": "粉丝召回", "broadcast": "群发消息"}
STATUS_LABELS = {
    "draft": "草稿",
    "scheduled": "已排期",
    "running": "发送中",
    "paused": "已暂停",
    "done": "已完成",
    "cancelled": "已取消",
}
OUTCOME_LABELS = {
    "sent": "已发送",
    "failed": "失败",
    "skipped": "跳过",
    "uncertain": "不确定",
    "pending": "待发",
}
REASON_LABELS = {
    "unsubscribed": "已取消关注",
    "opted_out": "已退订推送",
    "outside_window": "超出48小时互动窗口",
    "quota_exhausted": "48小时内客服消息已达5条",
    "cap_day": "今日推送已达上限",
    "cap_week": "本周推送已达上限",
    "cancelled": "活动已取消",
    "no_buyer": "买家资料已删除",
    "errcode": "微信返回错误",
    "timeout": "微信无响应",
    "render_error": "消息生成失败",
    "in_flight": "发送中断，无法确认",
    "mass_quota": "本月群发次数已用完",
    "mass_single": "群发至少要 2 人，只剩 1 人",
    "mass_too_long": "群发消息超过 300 字",
    "mass_calls": "今天的群发次数已用完，明天继续发送",
    "window_closed": "微信称已超出48小时窗口，改用群发",
}
CHANNEL_LABELS = {"custom": "客服消息", "template": "模板消息", "mass": "群发"}
# Why buyers of the audience cannot be reached now (scheduler/previews.campaign_reach).
REACH_REASONS = {"mass_quota": "48 小时内未互动且本月群发次数已用完"}
TEXT_FIELDS = (
    "name", "segment_name", "template_id", "message_template", "message_source", "title",
    "start_at", "link", "window_start", "window_end", "send_at", "text", "recall_title",
)  # fmt: skip
FORM_LIMIT = 20_000  # longest field the form accepts (message_source)
VARIABLES = ("name", "tier.name", "title", "start_local", "until", "link",
             "window_start_local", "window_end_local", "text")  # fmt: skip


def step_label(kind: str, offset_s: int | None) -> str:
    if kind == "reminder" and offset_s:
        if offset_s % 86400 == 0:
            return f"提前{offset_s // 86400}天"
        if offset_s % 3600 == 0:
            return f"提前{offset_s // 3600}小时"
        return f"提前{offset_s // 60}分钟"
    return {"announce": "公告", "start": "开播", "wave": "召回", "broadcast": "群发"}.get(
        kind, kind
    )


def blank_form(kind: str = "livestream") -> dict[str, Any]:
    return {
        "kind": kind, "name": "", "segment_name": "", "all_day": False, "template_id": "",
        "message_mode": "default", "message_template": "", "message_source": "",
        "title": "", "recall_title": "", "start_at": "", "link": "", "offset_day": True, "offset_hour": True,
        "duration_h": "2", "window_start": "", "window_end": "", "dormant_days": "30",
        "send_at": "", "text": "",
    }  # fmt: skip


def form_from_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields for a stored campaign's spec (``scheduler/drafts.spec_of``)."""
    form = blank_form(spec["kind"])
    for key in TEXT_FIELDS:
        if spec.get(key) is not None:
            form[key] = str(spec[key])
    form["all_day"] = bool(spec.get("all_day"))
    if spec["kind"] == "recall":
        form["recall_title"], form["title"] = form["title"], ""
    if spec.get("message_source") is not None:
        form["message_mode"] = "source"
    elif spec.get("message_template"):
        form["message_mode"] = "template"
    offsets = spec.get("offsets_s") or []
    form["offset_day"], form["offset_hour"] = 86400 in offsets, 3600 in offsets
    if spec.get("duration_s"):
        form["duration_h"] = f"{spec['duration_s'] / 3600:g}"
    if spec.get("dormant_days") is not None:
        form["dormant_days"] = str(spec["dormant_days"])
    return form


def read_form(post: Mapping[str, Any]) -> dict[str, Any]:
    """The posted fields, bounded, as the form shows them again."""
    form = blank_form(str(post.get("kind", "livestream")))
    if form["kind"] not in SPECS:
        form["kind"] = "livestream"
    for key in (*TEXT_FIELDS, "message_mode", "duration_h", "dormant_days"):
        if key in post:
            form[key] = str(post[key])[:FORM_LIMIT].replace("\r\n", "\n")
    for key in ("all_day", "offset_day", "offset_hour"):
        form[key] = key in post
    return form


def _number(value: str, field: str, errors: dict[str, str], *, integer: bool) -> float | None:
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        errors[field] = "请填写整数" if integer else "请填写数字"
        return None
    return number


def spec_data(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The spec dict the form describes, and errors the spec cannot express (numbers)."""
    errors: dict[str, str] = {}
    kind = form["kind"]
    data: dict[str, Any] = {"kind": kind, "name": form["name"].strip(),
                            "all_day": bool(form["all_day"])}  # fmt: skip
    for key in ("segment_name", "template_id"):
        if form[key].strip():
            data[key] = form[key].strip()
    if form["message_mode"] == "template" and form["message_template"].strip():
        data["message_template"] = form["message_template"].strip()
    elif form["message_mode"] == "source":
        data["message_source"] = form["message_source"]
    if kind == "livestream":
        data |= {"title": form["title"].strip(), "start_at": form["start_at"] or None,
                 "link": form["link"].strip()}  # fmt: skip
        data["offsets_s"] = [o for o, on in ((86400, form["offset_day"]),
                                             (3600, form["offset_hour"])) if on] + [0]  # fmt: skip
        hours = _number(form["duration_h"] or "2", "duration_h", errors, integer=False)
        if hours is not None:
            if not 1 / 60 <= hours <= 24:
                errors["duration_h"] = "直播时长应在 1 分钟到 24 小时之间"
            else:
                data["duration_s"] = round(hours * 3600)
    elif kind == "recall":
        data |= {"window_start": form["window_start"] or None,
                 "window_end": form["window_end"] or None}  # fmt: skip
        if form["recall_title"].strip():
            data["title"] = form["recall_title"].strip()
        days = _number(form["dormant_days"] or "30", "dormant_days", errors, integer=True)
        if days is not None:
            data["dormant_days"] = days
    else:
        data |= {"send_at": form["send_at"] or None, "text": form["text"]}
    return data, errors


def _pydantic_message(err: Mapping[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing" or (
        kind in ("datetime_type", "none_required") and err.get("input") is None
    ):
        return "必填"
    if kind == "string_too_short":
        return "不能为空"
    if kind == "string_too_long":
        return f"太长：最多 {ctx.get('max_length')} 字"
    if kind.startswith("datetime") or kind.startswith("date"):
        return "请选择时间（北京时间）"
    if kind in ("greater_than_equal", "less_than_equal", "too_long"):
        return "超出允许范围"
    if kind == "string_pattern_mismatch":
        return "只能用小写字母、数字和下划线"
    if kind == "int_parsing":
        return "请填写整数"
    return translate(str(err.get("msg", "")))


MESSAGES = [
    (
        re.compile(r"window_end must be after window_start"),
        "window_end",
        "结束时间必须晚于开始时间",
    ),
    (re.compile(r"the livestream start is in the past"), "start_at", "开播时间已经过去"),
    (re.compile(r"must not be after start_at"), "announce_at", "公告时间不能晚于开播时间"),
    (re.compile(r"the promotion window is already over"), "window_end", "活动时段已经结束"),
    (re.compile(r"is outside the window"), "window_start", "召回时间不在活动时段内"),
    (re.compile(r"no saved segment|not found|no segment"), "segment_name", "分群不存在"),
    (re.compile(r"cannot edit"), "name", "活动已排期，不能再编辑；可以复制为新草稿"),
]


def translate(message: str) -> str:
    for pattern, _field, chinese in MESSAGES:
        if pattern.search(message):
            return chinese
    return message


def validate(data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """The validated spec, or None and the errors by form field."""
    try:
        return SPECS[data["kind"]].model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            field = loc[0] if loc else ""
            if not field:
                field = next((f for p, f, _ in MESSAGES if p.search(err["msg"])), "name")
            if field == "title" and data["kind"] == "recall":
                field = "recall_title"
            if field in ("offsets_s", "duration_s"):
                field = "duration_h" if field == "duration_s" else "offset_day"
            errors.setdefault(field, _pydantic_message(err))
        return None, errors


def error_of(message: str) -> tuple[str, str]:
    """A creation check's CampaignError as (form field, Chinese message)."""
    match = re.match(r"^(?:invalid campaign: )?([\w]+)[\w.]*: (.*)$", message)
    field, rest = (match.group(1), match.group(2)) if match else ("name", message)
    if field in ("message_source", "message_template"):
        return field, f"消息模板无法生成：{rest}"
    if field == "waves":
        field = "window_start"
    return field, translate(rest)
