"""Where a buyer's order is: 发货了吗 / 到哪了 / 物流 / 单号 answered from their latest order.

The answer is the latest imported order of the buyer: its number, date, status as the
platform export wrote it, what was in it, and the waybill number and carrier when the
export carried them. What the data cannot answer goes to a person as any message the bot
cannot answer does (``handlers/autoreply.py``'s fallback: the inbox, worded by the
收到消息回复 when one is enabled): a buyer with no linked order, or an order whose export
said nothing about its status or shipment. The phrasings are the intent model's ``shipping``
label (``handlers/intents.py``); general questions about shipping (几天到, 运费, 包邮) are the
FAQ's (``handlers/faq.py``, tried after this router). This module reads orders and writes
nothing.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from handlers.autoreply import fallback
from handlers.intents import needs_person
from members.order_lines import order_items
from members.orders import Order, latest_order

router = Router("shipping")


def _order_view(order: Order, ctx: Context) -> dict:
    zone = ZoneInfo(ctx.config.orders.timezone)
    when = order.ordered_at.replace(tzinfo=UTC).astimezone(zone)  # stored as naive UTC
    return {
        "order_no": order.order_no,
        "ordered_local": f"{when.month}月{when.day}日",
        "amount": order.amount_cents / 100,  # shown with the yuan filter
        "status": order.status or "",
        "waybill_no": order.waybill_no,
        "carrier": order.carrier,
    }


# How shipping works in general, not where this buyer's order is: the FAQ answers those.
GENERAL = ("运费", "包邮", "几天", "多久", "哪家", "什么快递", "用什么", "默认", "什么时候", "几时")


@router.text(needs_person("shipping", unless=GENERAL))
async def order_status(ctx: Context) -> Reply:
    order = await latest_order(ctx.session, ctx.buyer.id) if ctx.buyer.id else None
    if order is None or not (order.status or order.waybill_no):
        return await fallback(ctx)  # handed off, worded as any message the bot cannot answer
    items = [item.label for item in await order_items(ctx.session, order.id)]
    return Reply(ctx.render("order_status", order=_order_view(order, ctx), items=items))
