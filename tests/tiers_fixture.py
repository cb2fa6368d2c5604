"""The tier ladder the tier and membership tests share: silver, gold and diamond.

Only diamond's threshold differs between them (by spend for the ladder's arithmetic, by
order count for the membership card's "再下 N 单" wording), so the caller names it.
"""

from __future__ import annotations

from typing import Any

SILVER = {
    "key": "silver",
    "name": "银卡会员",
    "rank": 1,
    "min_spend": 5000,
    "perks": ["满500减20"],
    "badge": "【银卡会员】",
}
GOLD = {
    "key": "gold",
    "name": "金卡会员",
    "rank": 2,
    "min_spend": 20000,
    "min_orders": 30,
    "perks": ["专属客服", "优先发货"],
    "badge": "【金卡会员】",
    "grace_days": 30,
}


def tiers(**diamond_threshold: Any) -> dict[str, Any]:
    """The ``[tiers]`` section: silver, gold, and diamond at the given threshold."""
    diamond = {
        "key": "diamond",
        "name": "钻石会员",
        "rank": 3,
        **diamond_threshold,
        "perks": ["新品先拿"],
        "badge": "【钻石会员】",
    }
    return {"levels": [SILVER, GOLD, diamond]}
