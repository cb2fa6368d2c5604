"""What staff read in place of the keys the code stores: audit actions and object types,
tier-change reasons, WeChat event names, template variables and template-message fields,
and the template engine's syntax errors, all in Chinese.

One home for these words, so a page never shows ``buyer.tag_add`` or ``manual``: templates
reach them through the Jinja filters ``register`` installs, route code by importing the
functions. Labels a domain already owns stay there and are only looked up here (business
types in ``members/card/choices.py``, card fields in ``members/buyer_card_edit.py``,
template-message fields in ``content/template_messages.py``, tier names in the ladder). This module stores nothing and decides nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TiersConfig
from content.template_messages import FIELD_LABELS as TEMPLATE_FIELDS
from members.buyer_card_edit import FIELDS as CARD_FIELDS
from members.card.choices import business_type_label
from members.tiers import (
    BY_ORDERS,
    GRACE_ENDED,
    MANUAL,
    MANUAL_CLEARED,
    MANUAL_EXPIRED,
    current_ladder,
)

# --- audit log --------------------------------------------------------------------------
OBJECT_TYPES = {
    "user": "账号", "api_token": "API 令牌", "buyer": "买家", "campaign": "活动",
    "segment": "分群", "template": "话术", "template_message": "模板消息",
    "autoreply": "自动回复", "menu": "自定义菜单", "tiers": "会员等级", "tier": "会员等级",
    "orders": "订单", "order_import": "订单导入", "order_upload": "订单文件",
    "conversation": "会话", "inbox": "收件箱", "quick_reply": "快捷回复",
    "follower_sync": "粉丝同步", "staff_wechat": "员工微信", "segment_tag": "微信标签",
    "tier_rules": "等级规则", "bulk_tag": "批量标签", "body": "买家名单",
}  # fmt: skip
AUDIT_ACTIONS = {
    "login": "登录控制台", "logout": "退出登录",
    "user.create": "添加成员", "user.role": "修改成员角色", "user.disable": "停用成员",
    "user.enable": "启用成员", "user.password": "重设密码",
    "token.create": "创建 API 令牌", "token.revoke": "撤销 API 令牌",
    "token.narrow": "收窄 API 令牌权限",
    "buyer.card": "修改买家名片", "buyer.note": "修改买家备注", "buyer.erase": "删除买家资料",
    "buyer.tag_add": "给买家加标签", "buyer.tag_remove": "移除买家标签",
    "buyer.bulk_tag_add": "批量加标签", "buyer.bulk_tag_remove": "批量移除标签",
    "campaign.create": "新建活动", "campaign.edit": "修改活动", "campaign.duplicate": "复制活动",
    "campaign.schedule": "排期活动", "campaign.pause": "暂停活动", "campaign.resume": "继续活动",
    "campaign.cancel": "停止活动", "campaign.test_send": "测试发送",
    "segment.create": "保存分群", "segment.update": "修改分群", "segment.rename": "重命名分群",
    "segment.delete": "删除分群",
    "segment.wechat_tag": "同步为微信标签",
    "template.save": "保存话术草稿", "template.publish": "发布话术",
    "template.rollback": "回滚话术", "template.reset": "恢复默认话术",
    "template_message.save": "保存模板消息",
    "autoreply.rule.save": "保存关键词规则", "autoreply.rule.delete": "删除关键词规则",
    "autoreply.rule.toggle": "启用或停用关键词规则", "autoreply.welcome": "修改欢迎语",
    "autoreply.default": "修改默认回复", "autoreply.rollback": "回滚自动回复",
    "menu.publish": "发布自定义菜单", "menu.draft": "保存菜单草稿", "menu.pull": "从公众号拉取菜单",
    "tiers.rules": "修改等级规则", "tiers.manual": "手动定级", "tiers.recompute": "重算等级",
    "orders.upload": "上传订单文件", "orders.import": "导入订单",
    "inbox.reply": "回复买家", "inbox.done": "标为已处理", "inbox.assign": "转交会话",
    "inbox.remind": "设置来消息提醒", "inbox.template": "发送模板消息",
    "inbox.quick_reply.create": "保存快捷回复", "inbox.quick_reply.delete": "删除快捷回复",
    "followers.sync": "同步粉丝", "staff_wechat.code": "绑定员工微信",
}  # fmt: skip
API_VERBS = {"POST": "新建", "PUT": "修改", "PATCH": "修改", "DELETE": "删除"}
API_OBJECTS = {"segments": "分群", "campaigns": "活动", "buyers": "买家", "orders": "订单",
               "tags": "标签", "tiers": "会员等级", "followers": "粉丝"}  # fmt: skip


def object_type(key: str) -> str:
    """``buyer`` → 买家."""
    return OBJECT_TYPES.get(key, "其他")


def audit_action(key: str) -> str:
    """``buyer.tag_add`` → 给买家加标签; ``api.POST /segments`` → 通过 API 新建分群."""
    if key in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[key]
    if key.startswith("api."):
        method, _, path = key.removeprefix("api.").partition(" ")
        thing = API_OBJECTS.get(path.strip("/").split("/")[0], "数据")
        return f"通过 API {API_VERBS.get(method, '操作')}{thing}"
    return f"{object_type(key.split('.')[0])}变更"


def audit_filter_choices() -> list[tuple[str, str]]:
    """(key prefix, label) for the 操作 filter, grouped by object type."""
    return sorted(AUDIT_ACTIONS.items(), key=lambda kv: kv[0])


# --- buyers -----------------------------------------------------------------------------
TIER_CHANGE_REASONS = {
    BY_ORDERS: "按采购自动调整",
    GRACE_ENDED: "宽限期结束",
    MANUAL: "手动调整",
    MANUAL_EXPIRED: "手动等级到期",
    MANUAL_CLEARED: "取消手动等级",
}
EVENTS = {
    "subscribe": "关注公众号", "subscribe_scan": "扫码关注", "subscribe_scan_product": "扫商品码关注",
    "unsubscribe": "取消关注", "SCAN": "扫描二维码", "scan": "扫描二维码",
    "CLICK": "点击菜单", "click": "点击菜单", "VIEW": "打开菜单链接", "view": "打开菜单链接",
    "LOCATION": "上报位置", "location": "上报位置",
    "TEMPLATESENDJOBFINISH": "模板消息送达回执", "MASSSENDJOBFINISH": "群发送达回执",
    "subscribe_msg_popup_event": "订阅通知弹窗", "subscribe_msg_change_event": "订阅通知变更",
}  # fmt: skip


def tier_change_reason(key: str) -> str:
    """``manual`` → 手动调整."""
    return TIER_CHANGE_REASONS.get(key, "等级调整")


def event_label(key: str | None) -> str:
    """A WeChat event name as staff say it (``subscribe`` → 关注公众号)."""
    return EVENTS.get(key or "", "其他事件")


def card_field(key: str) -> str:
    """A card field's label (``business_type`` → 业务类型)."""
    return CARD_FIELDS[key][0] if key in CARD_FIELDS else "其他资料"


async def tier_names(session: AsyncSession, config: TiersConfig) -> dict[str, str]:
    """Tier key → name, from the ladder in force (tiers an admin added in the console too)."""
    return {level.key: level.name for level in (await current_ladder(session, config)).levels}


# --- template variables -----------------------------------------------------------------
ATTRIBUTES = {
    "display_name": "称呼", "company": "公司", "opted_out": "是否退订",
    "platform_account": "平台账号", "phone": "手机号", "business_type": "经营类型",
    "channels": "销售渠道", "interests": "主营品类", "volume": "月采购量", "region": "地区",
    "province": "省份", "city": "城市", "tier_key": "等级代码", "key": "代码", "name": "名称",
    "perks": "权益", "badge": "徽章", "min_spend": "门槛采购额", "min_orders": "门槛单数",
    "label": "项名", "interest_categories": "可选品类", "kind": "步骤类型", "seq": "步骤序号",
    "offset_s": "提前秒数", "last_bought": "上次拿的货",
}  # fmt: skip


@dataclass(frozen=True)
class Chip:
    """A variable button: a Chinese label, the text inserted, and what it holds."""

    label: str
    insert: str
    doc: str


def _short(doc: str) -> str:
    """买家：称呼、公司 → 买家; 开播时间（北京时间） → 开播时间."""
    return re.split(r"[：（(，]", doc, maxsplit=1)[0].strip()


def variable_chips(variables: dict[str, Any], only: Iterable[str] | None = None) -> list[Chip]:
    """One chip per variable (per attribute, for an object), from the catalogue's ``Var``s;
    `only` keeps these paths (``name``, ``tier.name``) in that order."""
    chips: dict[str, Chip] = {}
    for name, var in variables.items():
        label = _short(var.doc)
        if var.attrs and not var.many:
            for attr in var.attrs:
                path = f"{name}.{attr}"
                chips[path] = Chip(f"{label}·{ATTRIBUTES.get(attr, attr)}", path, var.doc)
        else:
            chips[name] = Chip(label, name, var.doc)
    if only is None:
        return list(chips.values())
    return [chips[p] for p in only if p in chips]


# --- template syntax errors -------------------------------------------------------------
def _code(text: str) -> Markup:
    return Markup('「<code translate="no">{}</code>」').format(text)


_BLOCK_ENDS = {"if": "endif", "for": "endfor", "macro": "endmacro", "raw": "endraw",
               "with": "endwith", "filter": "endfilter", "set": "endset"}  # fmt: skip
_ERRORS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"unexpected end of template, expected 'end of print statement'"),
     lambda m: Markup("变量没有结束：缺少") + _code("}}")),
    (re.compile(r"unexpected end of template, expected 'end of statement block'"),
     lambda m: Markup("标签没有结束：缺少") + _code("%}")),
    (re.compile(r"Unexpected end of template\..*innermost block that needs to be closed is "
                r"'(\w+)'", re.S),
     lambda m: _code(m[1]) + Markup("没有结束：缺少") + _code(
         "{% " + _BLOCK_ENDS.get(m[1], "end" + m[1]) + " %}")),
    (re.compile(r"Encountered unknown tag '(\w+)'"),
     lambda m: Markup("多余或不认识的标签") + _code(m[1])),
    (re.compile(r"unexpected '(.+?)'"), lambda m: Markup("多余或不配对的符号") + _code(m[1])),
    (re.compile(r"expected token '(.+?)', got '(.+?)'"),
     lambda m: Markup("这里不该出现") + _code(m[2])),
    (re.compile(r"'([\w.]+)' is undefined"), lambda m: Markup("没有变量") + _code(m[1])),
    (re.compile(r"'[^']*' has no attribute '(\w+)'"),
     lambda m: Markup("变量没有这一项：") + _code(m[1])),
    (re.compile(r"no filter named '(\w+)'"), lambda m: Markup("没有这个过滤器") + _code(m[1])),
    (re.compile(r"no test named '(\w+)'"), lambda m: Markup("没有这个判断") + _code(m[1])),
    (re.compile(r"unsafe|not safely callable|access to attribute", re.I),
     lambda m: Markup("出于安全原因，话术里不能使用这个写法")),
    (re.compile(r"unknown tag|tag name expected", re.I), lambda m: Markup("标签写法有误")),
]  # fmt: skip
_CJK = re.compile(r"[\u4e00-\u9fff]")


def template_error(reason: str) -> Markup:
    """A template engine error (English) as a Chinese sentence; codes the user typed are
    quoted as code. Reasons already in Chinese (our own checks) pass through."""
    if _CJK.search(reason):
        return escape(reason)
    for pattern, say in _ERRORS:
        if found := pattern.search(reason):
            return say(found)
    return Markup("模板写法有误，请检查变量和标签是否成对")


def template_problem(line: int | None, reason: str, sample: str = "") -> Markup:
    """第 N 行：<the error in Chinese>（示例：…）."""
    where = f"第 {line} 行：" if line else ""
    tail = f"（示例：{sample}）" if sample else ""
    return escape(where) + template_error(reason) + escape(tail)


def typed(value: Any) -> Markup:
    """Something a person typed or an identifier (an account name, an order number, an
    OpenID), marked ``translate="no"``: shown exactly as it is, never translated."""
    return Markup('<span translate="no">{}</span>').format(value)


def register(env: jinja2.Environment) -> None:
    """Install the filters templates use to show keys as words."""
    env.filters.update(
        audit_action=audit_action,
        object_type=object_type,
        tier_change_reason=tier_change_reason,
        business_type=lambda key: business_type_label(key) if key else "—",
        template_error=template_error,
        typed=typed,
        template_field=lambda key: TEMPLATE_FIELDS.get(key, "其他字段"),  # owned by content/
    )
