"""The segment builder's model: groups of rows (字段 · 条件 · 值) ⇄ a segment spec, with the
Chinese labels, the one-sentence summary, synonym echoes and errors placed on their row.

A builder is a list of groups, each 满足全部 (``all``), 满足任一 (``any``) or 排除 (``not``
any of its rows); the groups are ANDed. ``to_spec`` turns it into the JSON the API takes and
remembers which spec path each row became, so a ``SegmentError`` from ``compile_segment``
lands on the row it is about. ``from_spec`` reads a spec back when it has that shape (one
level of groups); deeper specs are edited as JSON (高级). Checking is ``compile_segment``
with the ``Vocabulary``, exactly as the API does; this module only parses form text (how
typed words are understood lives in ``console/segment_words.py``).
It reads no database and renders no HTML.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from console.segment_words import checked_value, echoes, problem_in_chinese
from scheduler.segment_fields import FIELDS
from scheduler.segment_vocabulary import Vocabulary

MAX_GROUPS = 8
MAX_ROWS = 12  # per group
MAX_VALUE_CHARS = 500

FIELD_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("名片", (
        ("business_type", "业务类型"), ("region", "地区（省或市）"), ("province", "省份"),
        ("city", "城市"), ("channels", "销售渠道"), ("interests", "兴趣品类"),
        ("has_card", "已填名片"),
    )),
    ("会员与订单", (
        ("tier", "会员等级"), ("customer", "客户类型"), ("orders_12m", "近12个月订单数"),
        ("orders_total", "累计订单数"), ("spend_12m", "近12个月采购额（元）"),
        ("reorder_state", "补货节奏（节奏正常 / 该补货了 / 补货逾期 / 已流失）"),
        ("days_overdue", "超过预计补货日的天数"), ("cycle_days", "补货周期（天）"),
    )),
    ("互动", (
        ("days_since_interaction", "未互动天数"), ("days_since_follow", "关注天数"),
        ("subscribed", "已关注"), ("opted_out", "已退订"), ("tags", "标签"),
        ("qr_scene", "来源二维码"), ("imported", "同步导入的粉丝"),
        ("openid", "指定买家（OpenID）"),
    )),
    ("活动", (("rsvp", "预约了直播（活动编号）"),)),
)  # fmt: skip
FIELD_LABELS = {name: label for _, fields in FIELD_GROUPS for name, label in fields}
assert set(FIELD_LABELS) == set(FIELDS), "every segment field needs a Chinese label"

OP_LABELS = {
    "eq": "是", "ne": "不是", "in": "是其中之一", "not_in": "不是其中任何一个",
    "is_set": "已填写", "contains": "包含", "contains_any": "包含任一", "contains_all": "包含全部",
    "is_empty": "为空", "gt": "大于", "gte": "至少", "lt": "小于", "lte": "至多", "between": "介于",
}  # fmt: skip
MODES = {"all": "满足全部", "any": "满足任一", "not": "排除"}
CUSTOMER_LABELS = {
    "prospect": "潜在客户（未下单）",
    "new": "新客（1 单）",
    "returning": "老客（2 单及以上）",
}
LIST_OPS = ("in", "not_in", "contains_any", "contains_all")
FLAG_OPS = ("is_set", "is_empty")
SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass
class Row:
    field: str = ""
    op: str = ""
    value: str = ""
    value2: str = ""  # the upper bound of `between`
    error: str = ""
    # how typed words are understood, (typed, meant): (淘宝, 淘宝/天猫等网店)
    echoes: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def echo(self) -> str:
        """The echoes as one line: 淘宝 → 淘宝/天猫等网店；广东 → 广东省."""
        return "；".join(f"{typed} → {meant}" for typed, meant in self.echoes)

    @property
    def kind(self) -> str:
        return FIELDS[self.field].kind.name if self.field in FIELDS else ""

    @property
    def ops(self) -> list[str]:
        return list(FIELDS[self.field].kind.ops) if self.field in FIELDS else []


@dataclass
class Group:
    mode: str = "all"
    rows: list[Row] = field(default_factory=list)


@dataclass
class Built:
    """A builder turned into a spec; `errors` are form problems found before compiling."""

    spec: dict[str, Any]
    paths: dict[str, tuple[int, int]]  # spec path of a row → (group, row)
    errors: bool


# --- form ⇄ builder --------------------------------------------------------------------------


def from_form(form: Any) -> list[Group]:
    """The builder the form describes (``g0.mode``, ``g0.r1.field`` …); bounded in size."""
    groups: list[Group] = []
    for gi in range(MAX_GROUPS):
        mode = _text(form.get(f"g{gi}.mode"))
        if mode not in MODES:
            break
        rows = []
        for ri in range(MAX_ROWS):
            if f"g{gi}.r{ri}.field" not in form:
                break
            name = _text(form.get(f"g{gi}.r{ri}.field"))
            row = Row(
                field=name if name in FIELDS else "",
                op=_text(form.get(f"g{gi}.r{ri}.op")),
                value=_text(form.get(f"g{gi}.r{ri}.value")),
                value2=_text(form.get(f"g{gi}.r{ri}.value2")),
            )
            if row.op not in row.ops:
                row.op = row.ops[0] if row.ops else ""
            rows.append(row)
        groups.append(Group(mode, rows))
    return groups


def _text(value: Any) -> str:
    return value.strip()[:MAX_VALUE_CHARS] if isinstance(value, str) else ""


def apply_action(groups: list[Group], action: str) -> list[Group]:
    """Add or remove a row or group: ``add-row:0``, ``del-row:0:2``, ``add-group:any``,
    ``del-group:1``. Anything else leaves the builder as it is."""
    verb, _, arg = action.partition(":")
    parts = arg.split(":")
    try:
        if verb == "add-row" and len(groups[int(parts[0])].rows) < MAX_ROWS:
            groups[int(parts[0])].rows.append(Row())
        elif verb == "del-row":
            del groups[int(parts[0])].rows[int(parts[1])]
        elif verb == "add-group" and arg in MODES and len(groups) < MAX_GROUPS:
            groups.append(Group(arg, [Row()]))
        elif verb == "del-group":
            del groups[int(parts[0])]
    except (ValueError, IndexError):
        pass
    return groups


# --- builder → spec --------------------------------------------------------------------------


def to_spec(groups: list[Group], known: Vocabulary | None = None) -> Built:
    """The spec of the builder's filled rows; rows whose text cannot be a value get an error.
    With `known`, tiers may be typed by name or key (stored as keys), and tiers, interests
    and places nobody can have are refused in Chinese on their row."""
    parts: list[dict[str, Any]] = []
    paths: dict[str, tuple[int, int]] = {}
    errors = False
    for gi, group in enumerate(groups):
        conds = []
        for ri, row in enumerate(group.rows):
            row.error = ""
            row.echoes = echoes(row.field, SPLIT.split(row.value), known) if _worded(row) else []
            if not row.field:
                if row.value:
                    row.error, errors = "请选择字段", True
                continue
            try:
                value = _value(row)
                if known is not None and _worded(row):
                    value = checked_value(row.field, value, known)
                conds.append((ri, {"field": row.field, "op": row.op, "value": value}))
            except ValueError as exc:
                row.error, errors = str(exc), True
        if not conds:
            continue
        if group.mode == "all":  # the groups are ANDed: its rows join the top level
            for ri, cond in conds:
                paths[f"all[{len(parts)}]"] = (gi, ri)
                parts.append(cond)
            continue
        at = f"all[{len(parts)}]"
        if len(conds) == 1:
            inner = f"{at}.not" if group.mode == "not" else at
            paths[inner] = (gi, conds[0][0])
            node = conds[0][1]
            parts.append({"not": node} if group.mode == "not" else node)
            continue
        key = "any"
        base = f"{at}.not.{key}" if group.mode == "not" else f"{at}.{key}"
        for i, (ri, _) in enumerate(conds):
            paths[f"{base}[{i}]"] = (gi, ri)
        node = {key: [c for _, c in conds]}
        parts.append({"not": node} if group.mode == "not" else node)
    return Built({"all": parts}, paths, errors)


def _value(row: Row) -> Any:
    kind, op = row.kind, row.op
    if op in FLAG_OPS or kind == "flag":
        if row.value not in ("true", "false"):
            raise ValueError("请选择「是」或「否」")
        return row.value == "true"
    if kind in ("number", "days"):
        if op == "between":
            return [_number(row.value), _number(row.value2)]
        return _number(row.value)
    words = [w for w in SPLIT.split(row.value) if w]
    if not words:
        raise ValueError("请填写值")
    if kind == "rsvp":
        ids = []
        for w in words:
            w = w.split("·")[0].strip()
            if not w.isdigit() or len(w) > 18:
                raise ValueError("请填写直播活动的编号")
            ids.append(int(w))
        return ids if op == "in" else ids[0]
    if op in LIST_OPS:
        return words
    return row.value


def _worded(row: Row) -> bool:
    """Whether the row's value is words (tiers, places, interests …), not a flag or number."""
    return row.op not in FLAG_OPS and row.kind not in ("flag", "number", "days", "rsvp")


def _number(text: str) -> int | float:
    text = text.replace(",", "").replace("，", "")
    if not re.fullmatch(r"-?\d{1,13}(\.\d{1,4})?", text):
        raise ValueError("请填写数字")
    number = float(text)
    return int(number) if number.is_integer() else number


def place_error(groups: list[Group], built: Built, path: str, problem: str) -> bool:
    """Put a SegmentError on the row its path points into; False when no row matches."""
    best = max(
        (p for p in built.paths if path == p or path.startswith(p + ".")), key=len, default=""
    )
    if not best:
        return False
    gi, ri = built.paths[best]
    tail = path[len(best) :].lstrip(".")
    prefix = {"op": "条件不适用于该字段", "field": "字段无效"}.get(tail, "值无效")
    groups[gi].rows[ri].error = f"{prefix}：{problem_in_chinese(problem)}"
    return True


# --- spec → builder --------------------------------------------------------------------------


def from_spec(spec: Any, tier_names: dict[str, str] | None = None) -> list[Group] | None:
    """The builder for a spec of one level of groups, or None when only JSON can show it;
    tiers are shown by their names (`tier_names`: key → name)."""

    def _row(node: dict[str, Any]) -> Row:
        return _shown_row(node, tier_names or {})

    if not isinstance(spec, dict):
        return None
    parts = spec["all"] if set(spec) == {"all"} and isinstance(spec["all"], list) else [spec]
    groups: list[Group] = []
    for part in parts:
        if _is_leaf(part):
            if not groups or groups[-1].mode != "all":
                groups.append(Group("all", []))
            groups[-1].rows.append(_row(part))
            continue
        if not isinstance(part, dict) or len(part) != 1:
            return None
        ((key, inner),) = part.items()
        if key == "not":
            if _is_leaf(inner):
                groups.append(Group("not", [_row(inner)]))
                continue
            if isinstance(inner, dict) and set(inner) == {"any"}:
                key, inner = "not", inner["any"]
            else:
                return None
        if not isinstance(inner, list) or not all(_is_leaf(c) for c in inner):
            return None
        groups.append(Group(key, [_row(c) for c in inner]))
    if len(groups) > MAX_GROUPS or any(len(g.rows) > MAX_ROWS for g in groups):
        return None
    return groups


def _is_leaf(node: Any) -> bool:
    return (
        isinstance(node, dict) and set(node) == {"field", "op", "value"} and node["field"] in FIELDS
    )


def _shown_row(node: dict[str, Any], tier_names: dict[str, str]) -> Row:
    value, value2 = node["value"], ""
    if node["field"] == "tier":
        value = [tier_names.get(v, v) for v in value] if isinstance(value, list) else (
            tier_names.get(value, value))  # fmt: skip
    if node["op"] == "between" and isinstance(value, list) and len(value) == 2:
        value, value2 = value
    return Row(node["field"], str(node["op"]), _show(value), _show(value2))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "、".join(_show(v) for v in value)
    return str(value)
