"""A buyer's page: the timeline (messages both ways, orders, campaign deliveries, tier changes,
card steps and staff edits) and the facts beside it (tier progress, window, recent orders,
audit entries).

The timeline reads the newest ``PER_KIND`` rows of each source through the per-buyer indexes
and merges them by time, so a buyer with ten thousand messages costs what one with ten does.
Messages are matched by openid, everything else by buyer id. This module only reads; the
buyer book's writes are ``members/buyer_book.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.inbound.events import BuyerEvent
from bot.models import Buyer, InboundMessage, OutboundMessage
from bot.wechat.channels import WINDOW
from console.labels import card_field, event_label, tier_change_reason
from console.models import AuditEntry
from members.card.choices import business_type_label
from members.orders import Order
from members.tiers import Ladder, TierChange
from scheduler.models import Campaign, Delivery

PER_KIND = 50
KINDS = {"message": "消息", "order": "订单", "campaign": "活动触达", "tier": "等级变动",
         "card": "名片修改"}  # fmt: skip
CARD_EVENTS = {
    "follow": "关注公众号",
    "unfollow": "取消关注",
    "card_invited": "收到名片邀请",
    "card_consented": "同意交换名片",
    "card_confirmed": "确认名片",
}
OUTCOMES = {"sent": "已送达", "failed": "发送失败", "skipped": "已跳过", "uncertain": "不确定",
            "pending": "待发送", "claimed": "发送中", "sending": "发送中"}  # fmt: skip
SKIP_REASONS = {
    "unsubscribed": "已取消关注",
    "opted_out": "已退订",
    "outside_window": "不在 48 小时窗口内",
    "quota_exhausted": "窗口内条数已用完",
    "cap_day": "超过每日上限",
    "cap_week": "超过每周上限",
    "cancelled": "活动已取消",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # KINDS key
    title: str
    body: str = ""
    direction: str = ""  # in / out for messages
    code: str = ""  # an identifier shown as it is (an order number)


async def timeline(
    session: AsyncSession,
    buyer: Buyer,
    kind: str | None = None,
    *,
    per_kind: int = PER_KIND,
    tier_names: dict[str, str] | None = None,
) -> list[Entry]:
    """The buyer's history, newest first; `kind` keeps one KINDS type; tier changes name
    the tiers by `tier_names` (key → name)."""
    entries: list[Entry] = []

    def wanted(k: str) -> bool:
        return kind in (None, k)

    if wanted("message"):
        for m in await session.scalars(
            select(InboundMessage).where(InboundMessage.openid == buyer.openid)
            .order_by(InboundMessage.received_at.desc()).limit(per_kind)
        ):  # fmt: skip
            label = "买家消息" if m.msg_type != "event" else f"事件 · {event_label(m.event)}"
            entries.append(Entry(m.received_at, "message", label, m.content or "", "in"))
        for o in await session.scalars(
            select(OutboundMessage).where(OutboundMessage.openid == buyer.openid)
            .order_by(OutboundMessage.created_at.desc()).limit(per_kind)
        ):  # fmt: skip
            label = "活动推送" if o.purpose == "campaign" else "发出消息"
            if o.result != "ok":
                label += "（发送失败）"
            entries.append(Entry(o.created_at, "message", label, o.content or "", "out"))
    if wanted("order"):
        for order in await session.scalars(
            select(Order).where(Order.buyer_id == buyer.id)
            .order_by(Order.ordered_at.desc()).limit(per_kind)
        ):  # fmt: skip
            counted = "" if order.counted else "（不计入）"
            entries.append(Entry(order.ordered_at, "order", f"订单{counted}",
                                 f"{money(order.amount_cents / 100)} · {order.status or '—'}",
                                 code=order.order_no))  # fmt: skip
    if wanted("campaign"):
        rows = await session.execute(
            select(Delivery, Campaign.name).join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.buyer_id == buyer.id)
            .order_by(Delivery.id.desc()).limit(per_kind)
        )  # fmt: skip
        for d, name in rows:
            outcome = OUTCOMES.get(d.status, d.status)
            if d.reason:
                outcome += f" · {SKIP_REASONS.get(d.reason, d.reason)}"
            entries.append(Entry(d.sent_at or d.created_at, "campaign", f"活动「{name}」", outcome))
    if wanted("tier"):
        names = tier_names or {}
        for change in await session.scalars(
            select(TierChange).where(TierChange.buyer_id == buyer.id)
            .order_by(TierChange.created_at.desc()).limit(per_kind)
        ):  # fmt: skip
            note = f" · {change.note}" if change.note else ""
            entries.append(Entry(change.created_at, "tier", "等级变动",
                                 f"{_tier(names, change.from_key)} → {_tier(names, change.to_key)}"
                                 f" · {tier_change_reason(change.reason)}{note}"))  # fmt: skip
    if wanted("card"):
        for event in await session.scalars(
            select(BuyerEvent).where(BuyerEvent.buyer_id == buyer.id)
            .order_by(BuyerEvent.at.desc()).limit(per_kind)
        ):  # fmt: skip
            entries.append(Entry(event.at, "card", CARD_EVENTS.get(event.kind, event.kind)))
        for a in await _audit(session, buyer.id, "buyer.card", per_kind):
            after = a.after or {}
            changed = (
                "（资料已删除）"
                if after.get("redacted")
                else "、".join(f"{card_field(k)}：{_shown(k, v)}" for k, v in after.items())
            )
            entries.append(Entry(a.at, "card", f"员工修改名片 · {a.actor_name}", changed))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _tier(names: dict[str, str], key: str | None) -> str:
    return names.get(key, key) if key else "无等级"


def _shown(field: str, value: Any) -> str:
    if not value:
        return "（清空）"
    if field == "business_type":
        return business_type_label(str(value))
    return "、".join(map(str, value)) if isinstance(value, list) else str(value)


async def _audit(
    session: AsyncSession, buyer_id: int, action: str | None, limit: int
) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.object_type == "buyer", AuditEntry.object_id == str(buyer_id)
    )
    if action:
        query = query.where(AuditEntry.action == action)
    return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


async def audit_entries(session: AsyncSession, buyer_id: int, limit: int = 20) -> list[AuditEntry]:
    """操作记录: the newest console changes to this buyer."""
    return await _audit(session, buyer_id, None, limit)


async def staff_edited_fields(session: AsyncSession, buyer_id: int) -> set[str]:
    """Card fields a staff member changed (marked 员工修改)."""
    fields: set[str] = set()
    for a in await _audit(session, buyer_id, "buyer.card", 200):
        fields.update((a.before or {}).keys())
    return fields


async def recent_orders(session: AsyncSession, buyer_id: int, limit: int = 10) -> list[Order]:
    return list(
        await session.scalars(
            select(Order).where(Order.buyer_id == buyer_id)
            .order_by(Order.ordered_at.desc()).limit(limit)
        )
    )  # fmt: skip


def money(yuan: float) -> str:
    sign = "-" if yuan < 0 else ""
    return f"{sign}¥{abs(yuan):,.2f}"


def window_hours_left(buyer: Buyer, now: datetime) -> int | None:
    """Whole hours left in WeChat's 48-hour window (None: outside it)."""
    last = buyer.last_interaction_at
    if last is None or now - last >= WINDOW:
        return None
    return max(0, int((last + WINDOW - now).total_seconds() // 3600))


def tier_progress(buyer: Buyer, config: Config) -> dict[str, Any]:
    """The current tier and what the next one needs ("再采购 ¥3,200 或 2 单")."""
    ladder = Ladder(config.tiers)
    current, nxt = ladder.get(buyer.tier_key), ladder.next_above(buyer.tier_key)
    out: dict[str, Any] = {"current": current, "next": nxt, "percent": 100, "gap": ""}
    if nxt is None:
        return out
    gaps, shares = [], []
    if nxt.min_spend:
        gaps.append(f"再采购 {money(max(0.0, nxt.min_spend - buyer.spend_12m))}")
        shares.append(buyer.spend_12m / nxt.min_spend)
    if nxt.min_orders:
        gaps.append(f"{max(0, nxt.min_orders - buyer.orders_12m)} 单")
        shares.append(buyer.orders_12m / nxt.min_orders)
    out["gap"] = " 或 ".join(gaps)
    out["percent"] = int(min(1.0, max(shares, default=1.0)) * 100)
    return out
