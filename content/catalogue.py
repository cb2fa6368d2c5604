"""Every buyer-facing template under ``templates/messages/``: topic, purpose, variables.

The catalogue is the contract between the code that renders a template and the admin who
edits it: a published version sees exactly the variables listed here, as plain values (an
object variable is reduced to the attributes listed, never an ORM row). The drift test
(tests/content/test_catalogue_drift.py) fails when a call site passes something undocumented
or documentation names something nobody passes. This module does not load or render
templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOPICS = ("欢迎", "名片", "会员", "订单", "对账", "直播", "退订", "活动", "兜底/其他")


@dataclass(frozen=True)
class Var:
    """A variable: what it means, and for an object the attributes a template may read."""

    doc: str
    attrs: tuple[str, ...] = ()  # an object (or a list of objects) with these attributes
    many: bool = False  # a list of such objects


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    topic: str
    description: str
    variables: dict[str, Var] = field(default_factory=dict)
    partial: bool = False  # only included by other templates, never rendered alone
    # Which buyers the code renders it for: "" all; "tier" members only; "no_tier" others;
    # "upgrade" / "downgrade" a tier change (so the sample contexts match).
    when: str = ""


BUYER = Var(
    "买家：称呼、公司、是否退订、平台账号、手机号",
    ("display_name", "company", "opted_out", "platform_account", "phone"),
)
TIER_ATTRS = ("key", "name", "perks", "badge", "min_spend", "min_orders")
FIELD = Var("正在填写的名片项（含项名）", ("key", "label"))
CARD_CONFIG = Var("名片设置：可选主营品类", ("interest_categories",))
CARD = Var(
    "买家名片各项（空项为 None）",
    (
        "display_name", "company", "business_type", "channels", "interests", "volume",
        "region", "phone", "platform_account",
    ),
)  # fmt: skip
LIVE = {
    "buyer": BUYER,
    "title": Var("直播标题"),
    "link": Var("直播链接（可能为空）"),
    "start_local": Var("开播时间（北京时间，如 5月18日 20:00）"),
    "end_time": Var("预计结束时间（如 22:00）"),
}
TIER_NOTICE = {
    "buyer": BUYER,
    "tier": Var("新等级（降为无等级时为空）", TIER_ATTRS),
    "previous": Var("原等级（之前无等级时为空）", TIER_ATTRS),
    "next_tier": Var("再上一级（已是最高级时为空）", TIER_ATTRS),
}
TIER_CARD = {
    "buyer": BUYER,
    "tier": Var("当前等级（无等级时为空）", TIER_ATTRS),
    "next_tier": Var("下一级（已是最高级时为空）", TIER_ATTRS),
    "need_spend": Var("升级还差的采购额（元，不适用时为空）"),
    "need_orders": Var("升级还差的单数（不适用时为空）"),
    "orders": Var("近 N 个月订单数"),
    "spend": Var("近 N 个月采购额（元）"),
    "window_months": Var("统计月数 N"),
    "manual_until": Var("手动等级到期日（如 2026-06-30，否则为空）"),
    "grace_until": Var("宽限期截止日（否则为空）"),
    "rebate_progress": Var(
        "返点进度（没有下一档时为空）：period 本月/本季度，need 还差金额（分），rate 下一档比例",
        ("period", "need", "rate"),
    ),
}
STATEMENT_ATTRS = (
    "period", "orders", "order_total", "refund_total", "adjustment_total", "net", "rate",
    "rebate", "paid_on", "paid_method",
)  # fmt: skip
STATEMENT_DOC = (
    "：period 期间（2026年11月），orders 单数，金额均为分（用 |cents 显示）：order_total 拿货、"
    "refund_total 退款（负数）、adjustment_total 往期调整、net 净采购、rebate 返点；rate 返点比例；"
    "paid_on、paid_method 发放日期和方式（未发放为 None）"
)
CAMPAIGN_BUYER = Var(
    "买家：称呼、公司、经营类型、省、市、等级、兴趣、上次拿的货（补货提醒用，可能为空）",
    (
        "display_name", "company", "business_type", "province", "city", "tier_key", "interests",
        "last_bought",
    ),
)  # fmt: skip
CAMPAIGN = {
    "buyer": CAMPAIGN_BUYER,
    "name": Var("买家称呼，未知时为「老朋友」"),
    "tier": Var("买家等级（无等级时为空）", ("key", "name", "perks", "badge")),
    "interests": Var("买家主营品类（列表，可能为空）"),
    "step": Var("推送步骤：类型（公告、提醒、开播、分批、群发、每日补货）、序号、提前秒数",
                ("kind", "seq", "offset_s")),
    "rsvped": Var("买家是否已预约本场直播"),
    "title": Var("活动标题"),
    "link": Var("链接（可能为空）"),
    "text": Var("群发正文"),
    "start_local": Var("开播时间（北京时间）"),
    "end_local": Var("结束时间（北京时间）"),
    "until": Var("距开播（如 1小时）"),
    "window_start_local": Var("召回活动开始时间"),
    "window_end_local": Var("召回活动结束时间"),
}  # fmt: skip


def _t(name: str, topic: str, description: str, partial: bool = False, /, **variables: Var):
    return TemplateInfo(name, topic, description, dict(variables), partial)


def _when(info: TemplateInfo, when: str) -> TemplateInfo:
    return TemplateInfo(info.name, info.topic, info.description, info.variables, False, when)


_ASK = {
    "name": "称呼", "company": "公司/店铺", "business_type": "经营类型",
    "channels": "销售渠道", "interests": "主营品类", "volume": "月采购量", "region": "地区",
    "phone": "手机号", "account": "平台账号",
}  # fmt: skip

_ENTRIES: list[TemplateInfo] = [
    _t("welcome", "欢迎", "新买家关注公众号时的欢迎语", buyer=BUYER),
    _t("card_welcome_back", "欢迎", "老买家再次打开名片时的开场白", buyer=BUYER),
    *[
        _t(
            f"card_ask_{k}",
            "名片",
            f"名片：询问「{label}」",
            buyer=BUYER,
            field=FIELD,
            card=CARD_CONFIG,
        )
        for k, label in _ASK.items()
    ],  # fmt: skip
    _t("card_consent", "名片", "交换名片前说明收集哪些信息、做什么用，请买家同意", buyer=BUYER),
    _t("card_consent_again", "名片", "买家没有明确同意时再问一次", buyer=BUYER),
    _t("card_consent_thanks", "名片", "买家同意后致谢，接着问第一项", buyer=BUYER),
    _t("card_declined", "名片", "买家不同意交换名片", buyer=BUYER),
    _t("card_show", "名片", "买家查看自己的名片", buyer=BUYER, card=CARD),
    _t("card_confirm", "名片", "名片填完，请买家核对", buyer=BUYER, card=CARD),
    _t("card_confirm_again", "名片", "核对时回答不明确，再请核对", buyer=BUYER, card=CARD),
    _t("card_view", "名片", "名片内容（被查看、核对话术引用的片段）", True, card=CARD),
    _t("card_done", "名片", "名片确认完成", buyer=BUYER, card=CARD),
    _t("card_none", "名片", "买家还没有名片时查看名片", buyer=BUYER),
    _t("card_paused", "名片", "买家中途暂停填写", buyer=BUYER),
    _t("card_back_first", "名片", "已是第一项，无法返回上一项", buyer=BUYER),
    _t(
        "card_filled",
        "名片",
        "一句话填了多项时确认填了哪些",
        buyer=BUYER,
        labels=Var("本次填写的项名（列表）"),
    ),  # fmt: skip
    _t(
        "card_invalid",
        "名片",
        "回答不符合要求（按原因说明）",
        buyer=BUYER,
        field=FIELD,
        card=CARD_CONFIG,
        reason=Var("没填好的名片项（月采购量、地区、手机号等）"),
    ),  # fmt: skip
    _t("card_required", "名片", "必填项不能跳过", buyer=BUYER, field=FIELD),
    _t("card_skip_offer", "名片", "多次答错后提示可跳过", buyer=BUYER, field=FIELD),
    _t(
        "card_resume_offer",
        "名片",
        "提示可以接着填写上次没填完的名片",
        buyer=BUYER,
        field=Var("下一项名片项（可能为空）", ("key", "label")),
    ),  # fmt: skip
    _t("card_continue_offer", "名片", "其他回复后提醒可继续填写名片", buyer=BUYER),
    _t(
        "card_reminder",
        "名片",
        "其他回复后提醒交换或继续名片",
        buyer=BUYER,
        paused=Var("名片是否填到一半暂停了"),
    ),  # fmt: skip
    _t(
        "card_edit_pick",
        "名片",
        "修改名片：选择要改的项",
        buyer=BUYER,
        fields=Var("名片各项", ("key", "label"), many=True),
        unknown=Var("上一次选择是否无效"),
    ),  # fmt: skip
    _t("card_edit_cancelled", "名片", "取消修改名片", buyer=BUYER),
    _t("card_delete_confirm", "名片", "删除名片前确认", buyer=BUYER),
    _t("card_deleted", "名片", "名片已删除", buyer=BUYER),
    _t("card_delete_kept", "名片", "买家决定保留名片", buyer=BUYER),
    _when(_t("tier_card", "会员", "会员买家查看自己的会员卡", **TIER_CARD), "tier"),
    _when(_t("tier_none", "会员", "还不是会员的买家查看会员", **TIER_CARD), "no_tier"),
    _t(
        "tier_progress",
        "会员",
        "距下一级还差多少（会员卡引用的片段）",
        True,
        next_tier=TIER_CARD["next_tier"],
        need_spend=TIER_CARD["need_spend"],
        need_orders=TIER_CARD["need_orders"],
    ),  # fmt: skip
    _when(_t("tier_upgrade", "会员", "等级升级通知", **TIER_NOTICE), "upgrade"),
    _when(_t("tier_downgrade", "会员", "等级降级通知", **TIER_NOTICE), "downgrade"),
    _t(
        "statement_notice",
        "对账",
        "结账后通知买家本期对账单",
        buyer=BUYER,
        statement=Var("本期对账单" + STATEMENT_DOC, STATEMENT_ATTRS),
        link=Var("对账单明细页链接（未设置公网地址时为 None）"),
    ),  # fmt: skip
    _t(
        "statement_reply",
        "对账",
        "买家问对账、这个月拿了多少货、返点多少、返点到账没",
        buyer=BUYER,
        topic=Var("问的是什么：statement 对账、month 本期拿货、rebate 返点、payout 返点到账"),
        statement=Var("最近一期已结账的对账单（没有时为 None）" + STATEMENT_DOC, STATEMENT_ATTRS),
        running=Var("进行中的本期（period 为 2026年12月）" + STATEMENT_DOC, STATEMENT_ATTRS),
        progress=TIER_CARD["rebate_progress"],
        owed=Var("已结算未发放的返点合计（分）"),
        link=Var("对账单明细页链接（未设置公网地址时为 None）"),
    ),  # fmt: skip
    _t(
        "order_status",
        "订单",
        "买家问发货了吗、到哪了：最近一笔订单的状态和物流",
        buyer=BUYER,
        order=Var(
            "最近一笔订单：单号、下单日期（如 5月18日）、金额（元）、状态、运单号、物流公司",
            ("order_no", "ordered_local", "amount", "status", "waybill_no", "carrier"),
        ),
        items=Var("这笔订单的货品（列表，如「纯棉T恤（白色 XL）」，可能为空）"),
    ),  # fmt: skip
    _t(
        "live_next", "直播", "下一场直播预告（买家问直播时）", rsvped=Var("买家是否已预约"), **LIVE
    ),  # fmt: skip
    _t("live_now", "直播", "正在直播时买家问直播", **LIVE),
    _t("live_none", "直播", "暂无直播安排", buyer=BUYER),
    _t("live_rsvp", "直播", "买家预约直播", already=Var("之前是否已预约"), **LIVE),
    _t("optout_confirm", "退订", "买家抱怨打扰时确认是否退订", buyer=BUYER),
    _t("optout_done", "退订", "退订成功", buyer=BUYER, already=Var("之前是否已退订")),
    _t(
        "optout_resumed", "退订", "恢复接收推送", buyer=BUYER, already=Var("之前是否已在接收")
    ),  # fmt: skip
    _t("campaign_livestream", "活动", "直播预告活动的默认消息（公告、提醒、开播）", **CAMPAIGN),
    _t("campaign_recall", "活动", "粉丝召回活动的默认消息", **CAMPAIGN),
    _t("campaign_reorder", "活动", "补货提醒：按买家的拿货节奏，到期时提醒补货", **CAMPAIGN),
    _t("campaign_broadcast", "活动", "群发活动的默认消息", **CAMPAIGN),
    _t("help", "兜底/其他", "帮助：能做什么、怎么联系人工", buyer=BUYER),
    _t("inbox_ack_open", "兜底/其他", "转人工后（工作时间内）的确认：客服会尽快回复", buyer=BUYER),
    _t(
        "inbox_ack_closed",
        "兜底/其他",
        "转人工后（下班时间）的确认：说明客服何时回复",
        buyer=BUYER,
        when=Var("客服开始回复的时间，如「明天 09:00」"),
    ),  # fmt: skip
    _t(
        "inbox_ack_again",
        "兜底/其他",
        "转人工后买家久等又来消息时的再次确认：说明客服何时回复",
        buyer=BUYER,
        staff_in=Var("现在是否工作时间"),
        when=Var("下班时间时客服开始回复的时间，如「明天 09:00」（工作时间内为空）"),
    ),  # fmt: skip
    _t(
        "courtesy",
        "兜底/其他",
        "打招呼、谢谢、辛苦了、再见、节日祝福等客套话的回应",
        buyer=BUYER,
        kind=Var("客套类型：问候、感谢、辛苦、再见、好的、节日祝福"),
    ),  # fmt: skip
    _t("sorry", "兜底/其他", "系统出错时的致歉（不含任何变量）"),
]

CATALOGUE: dict[str, TemplateInfo] = {t.name: t for t in _ENTRIES}


def by_topic() -> list[tuple[str, list[TemplateInfo]]]:
    """The catalogue grouped by topic, in the console's order."""
    return [(topic, [t for t in _ENTRIES if t.topic == topic]) for topic in TOPICS]


def file_name(name: str) -> str:
    """The loader name of a template (``welcome`` → ``messages/welcome.j2``)."""
    return f"messages/{name}.j2"


__all__ = ["CATALOGUE", "TOPICS", "TemplateInfo", "Var", "by_topic", "file_name"]
