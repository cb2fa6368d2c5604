"""The demo supplier's catalogue and the line items of demo orders.

Both the demo's own buyers (``demo/orders_demo.py``) and the year of history
(``insights/demo_history.py``) list what each order held: each buyer keeps a few favourite
products and every order picks one to three of them, its paid amount split across them.
This module writes nothing; it only says what a demo order held.
"""

from __future__ import annotations

import random

# (title, SKU, unit price in cents)
CATALOGUE: tuple[tuple[str, str, int], ...] = (
    ("春季新款纯棉T恤", "白色 均码", 2_800), ("春季新款纯棉T恤", "黑色 均码", 2_800),
    ("高腰阔腿牛仔裤", "浅蓝 M", 5_900), ("高腰阔腿牛仔裤", "深蓝 L", 5_900),
    ("儿童防晒衣", "粉色 110", 3_500), ("儿童防晒衣", "蓝色 120", 3_500),
    ("雪纺碎花连衣裙", "S-XL 混码", 6_800), ("针织开衫", "米白 均码", 4_600),
    ("帆布托特包", "原色", 1_900), ("运动休闲鞋", "白色 37", 8_800),
    ("冰丝防晒袖套", "混色", 600), ("男士polo衫", "藏青 XL", 4_200),
)  # fmt: skip
CARRIERS = ("中通快递", "圆通速递", "顺丰速运", "韵达快递")


def favourites(rng: random.Random, count: int = 3) -> list[tuple[str, str, int]]:
    """The few products a demo buyer keeps coming back for."""
    return rng.sample(CATALOGUE, count)


def order_lines(
    rng: random.Random, cents: int, products: list[tuple[str, str, int]]
) -> list[tuple[str, str, int, int]]:
    """(title, SKU, quantity, unit price in cents) per line of an order paying `cents`."""
    picked = rng.sample(products, min(rng.randint(1, 3), len(products)))
    lines = []
    for k, (title, sku, price) in enumerate(picked):
        share = cents // len(picked) + (cents % len(picked) if k == 0 else 0)
        lines.append((title, sku, max(share // price, 1), price))
    return lines


def waybill(rng: random.Random) -> tuple[str, str]:
    """A plausible waybill number and carrier."""
    return f"7{rng.randint(10**11, 10**12 - 1)}", rng.choice(CARRIERS)
