"""The card as stored on the buyer row: reading it into form values, writing answers back,
the view shown to the buyer, and erasing it (删除我的资料).

Form values are JSON (volume as [min, max], region as [province, city]); the buyer row has
typed columns that segments filter on. This module is the one place that maps between them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialog.forms.store import end_form
from bot.models import Buyer, InboundMessage, OutboundMessage
from members.card.choices import business_type_label
from members.card.volume import format_volume

CARD_KEYS = (
    "display_name",
    "company",
    "business_type",
    "channels",
    "interests",
    "volume",
    "region",
    "phone",
    "platform_account",
)


def card_values(buyer: Buyer) -> dict[str, Any]:
    """The fields the buyer's card already has, as form values (empty ones left out)."""
    values: dict[str, Any] = {
        "display_name": buyer.display_name,
        "company": buyer.company,
        "business_type": buyer.business_type,
        "channels": list(buyer.channels or []) or None,
        "interests": list(buyer.interests or []) or None,
        "volume": [buyer.volume_min, buyer.volume_max]
        if buyer.volume_min is not None or buyer.volume_max is not None
        else None,
        "region": [buyer.province, buyer.city] if buyer.province else None,
        "phone": buyer.phone,
        "platform_account": buyer.platform_account,
    }
    return {k: v for k, v in values.items() if v is not None}


def apply_card_value(buyer: Buyer, key: str, value: Any) -> None:
    """Write one answered field onto the buyer row."""
    if key == "volume":
        buyer.volume_min, buyer.volume_max = value
    elif key == "region":
        buyer.province, buyer.city = value
    elif key in ("channels", "interests"):
        setattr(buyer, key, list(value))
    elif key in CARD_KEYS:
        setattr(buyer, key, value)
    else:
        raise KeyError(key)


def card_view(buyer: Buyer) -> dict[str, str]:
    """Each card field as the buyer reads it ("" when empty)."""
    region = ""
    if buyer.province:
        region = (
            buyer.province
            if buyer.city in (None, buyer.province)
            else f"{buyer.province} {buyer.city}"
        )
    return {
        "display_name": buyer.display_name or "",
        "company": buyer.company or "",
        "business_type": business_type_label(buyer.business_type),
        "channels": "、".join(buyer.channels or []),
        "interests": "、".join(buyer.interests or []),
        "volume": format_volume(buyer.volume_min, buyer.volume_max),
        "region": region,
        "phone": buyer.phone or "",
        "platform_account": buyer.platform_account or "",
    }


async def erase_buyer_data(session: AsyncSession, buyer: Buyer) -> None:
    """删除我的资料: clear every personal field and the texts of the buyer's messages.

    What stays is anonymous: the buyer row (an opaque openid, subscription dates, order
    counts) and one row per message without its text, so the supplier's counts still add up.
    """
    for key in CARD_KEYS:
        empty: Any = {"volume": [None, None], "region": [None, None]}.get(
            key, [] if key in ("channels", "interests") else None
        )
        apply_card_value(buyer, key, empty)
    buyer.tags = []
    buyer.consent_at = buyer.consent_version = buyer.card_completed_at = None
    buyer.pending_notice = None
    await end_form(session, buyer)
    await session.execute(
        update(InboundMessage)
        .where(InboundMessage.openid == buyer.openid)
        .values(content=None, reply=None)
    )
    await session.execute(
        update(OutboundMessage).where(OutboundMessage.openid == buyer.openid).values(content=None)
    )
