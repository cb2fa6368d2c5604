"""``laoke demo``'s data: its configuration, its database and the buyers it is seeded with.

It writes a configuration into a data folder (safe mode, generated secrets kept across runs),
upgrades the SQLite database and seeds demo data. Serving it — the webhook (``create_app``),
the fake WeChat API (``/cgi-bin/…``, ``/_sim/…``) which the app's own API client calls, and
the buyer chat simulator (``/chat/``) on one port — is wiring, done by ``laoke/demo.py``.

Features add themselves to the demo through two lists below (small edits, one line each):
``DEMO_SEEDERS`` — async ``(sessionmaker, config, clock) -> None`` functions that add demo
data idempotently (they run on every start, after ``seed_buyers``); ``DEMO_STARTERS`` —
``cleanup_ctx``-style async generators ``(app) -> AsyncIterator[None]`` for things the demo
runs beside the app (e.g. scheduling a sample campaign). A feature module listed here must not
import ``demo.demo`` itself.

This module deliberately does not fake time or WeChat's delays; it is not for production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config, parse_config
from bot.database import upgrade
from bot.models import Buyer
from content.demo_templates import seed_demo_templates
from demo.autoreplies_demo import seed_demo_autoreplies
from demo.buyer_book_demo import seed_buyer_notes
from demo.demo_campaign_report import seed_demo_campaign_report
from demo.demo_campaigns import seed_demo_campaigns
from demo.demo_order_imports import seed_demo_order_imports
from demo.followers_demo import demo_followers
from demo.inbox_demo import seed_demo_inbox
from demo.orders_demo import seed_demo_orders
from demo.segments_demo import seed_demo_segments
from demo.simulator.chat import QR_SCENES
from demo.simulator.fake_account import FakeWeChat
from demo.statements_demo import seed_demo_statements
from insights.demo_history import seed_demo_history

DemoSeeder = Callable[[async_sessionmaker[AsyncSession], Config, Clock], Awaitable[None]]
DemoStarter = Callable[[web.Application], AsyncIterator[None]]

DEMO_BUYERS = 300
DEMO_APPID = "wxd3m0a11ce5eed000"

# Tiers of the demo account (a real account sets its own in config.toml).
DEMO_TIERS: list[dict[str, Any]] = [
    {"key": "silver", "name": "银卡会员", "rank": 1, "min_spend": 5000.0, "badge": "【银卡会员】",
     "perks": ["新品优先看样", "满5000包邮"]},
    {"key": "gold", "name": "金卡会员", "rank": 2, "min_spend": 20000.0, "badge": "【金卡会员】",
     "perks": ["拿货价95折", "新品优先看样", "专属客服"]},
    {"key": "diamond", "name": "钻石会员", "rank": 3, "min_spend": 100000.0,
     "badge": "【钻石会员】", "perks": ["拿货价9折", "账期30天", "新品首发", "专属客服"]},
]  # fmt: skip

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
TITLES = ("总", "姐", "哥", "老板", "经理")
COMPANY_WORDS = ("衣橱", "优选", "服饰", "精品", "潮牌", "小铺", "商行", "贸易", "好物", "严选")
BUSINESS_TYPES = ("taobao", "social", "cross_border", "store", "wholesale", "other")
CHANNELS = ("淘宝", "天猫", "拼多多", "抖音", "快手", "小红书", "微信", "视频号", "1688", "亚马逊")
PLACES = (
    ("广东省", "广州市"), ("广东省", "东莞市"), ("浙江省", "杭州市"), ("浙江省", "义乌市"),
    ("江苏省", "苏州市"), ("福建省", "泉州市"), ("上海市", "上海市"), ("北京市", "北京市"),
    ("四川省", "成都市"), ("湖北省", "武汉市"), ("河南省", "郑州市"), ("山东省", "临沂市"),
)  # fmt: skip
TAGS = ("老客", "大客户", "新品关注", "直播常客", "价格敏感")


def demo_openid(n: int) -> str:
    """A stable, WeChat-shaped openid for demo buyer `n` (so seeding is idempotent)."""
    return "oDemo" + hashlib.sha1(f"laoke-demo-{n}".encode()).hexdigest()[:23]


def _last_interaction_age(rng: random.Random) -> timedelta:
    """Minutes to months: a quarter inside the 48-hour window, most dormant."""
    bucket = rng.random()
    if bucket < 0.12:
        return timedelta(minutes=rng.randint(2, 59))
    if bucket < 0.25:
        return timedelta(hours=rng.randint(1, 47))
    if bucket < 0.55:
        return timedelta(days=rng.randint(2, 29), hours=rng.randint(0, 23))
    return timedelta(days=rng.randint(30, 400))


def demo_buyer_rows(now: datetime, config: Config, count: int = DEMO_BUYERS) -> list[dict]:
    """Deterministic, varied buyer rows (the same `count` buyers on every run)."""
    rng = random.Random(518)
    tiers = sorted(config.tiers.levels, key=lambda t: t.rank)
    rows = []
    for n in range(count):
        last = now - _last_interaction_age(rng)
        first = last - timedelta(days=rng.randint(0, 700))
        subscribed = rng.random() < 0.86
        scene = rng.choice(QR_SCENES) or None
        row: dict[str, Any] = {
            "openid": demo_openid(n),
            "subscribed": subscribed,
            "subscribed_at": first,
            # Left after their last message, never later than now.
            "unsubscribed_at": None
            if subscribed
            else last + min(timedelta(minutes=rng.randint(1, 600)), (now - last) / 2),
            "first_seen_at": first,
            "qr_scene": scene,
            "last_interaction_at": last,
            "opted_out": rng.random() < 0.06,
            "tags": rng.sample(TAGS, rng.randint(0, 2)),
        }
        card = rng.random()
        if card < 0.45:  # a complete business card
            province, city = rng.choice(PLACES)
            low = rng.choice((5_000, 10_000, 30_000, 50_000, 100_000))
            row.update(
                consent_at=first,
                consent_version=config.card.notice_version,
                card_completed_at=first + timedelta(minutes=5),
                display_name=rng.choice(SURNAMES) + rng.choice(TITLES),
                company=rng.choice(SURNAMES) + rng.choice(SURNAMES) + rng.choice(COMPANY_WORDS),
                business_type=rng.choice(BUSINESS_TYPES),
                channels=rng.sample(CHANNELS, rng.randint(1, 3)),
                interests=rng.sample(config.card.interest_categories, rng.randint(1, 3)),
                volume_min=low,
                volume_max=low * 2,
                province=province,
                city=city,
                phone=f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
                platform_account=f"demo_shop_{n}",
            )
            orders = rng.choice((0, 0, 1, 3, 8, 20))
            spend = round(orders * rng.uniform(800, 9000), 2)
            row.update(orders_12m=orders, spend_12m=spend, orders_total=orders + rng.randint(0, 9))
            earned = [t for t in tiers if t.min_spend is not None and spend >= t.min_spend]
            if earned:
                row.update(tier_key=earned[-1].key, tier_since=first + timedelta(days=30))
        elif card < 0.55:  # started the card and stopped half-way
            row.update(
                consent_at=first,
                consent_version=config.card.notice_version,
                display_name=rng.choice(SURNAMES) + rng.choice(TITLES),
                business_type=rng.choice(BUSINESS_TYPES),
            )
        rows.append(row)
    return rows


async def seed_buyers(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """A few hundred demo buyers; buyers already there are left alone."""
    rows = demo_buyer_rows(clock.now(), config)
    async with sessions() as session, session.begin():
        # ORM bulk insert: rows with different keys get the columns' defaults.
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(Buyer).on_conflict_do_nothing(index_elements=["openid"])
        await session.execute(stmt, rows)


# Features append their seeders and starters here (see the module docstring).
DEMO_SEEDERS: list[DemoSeeder] = [
    seed_buyers,
    seed_demo_orders,
    seed_demo_statements,  # after the orders: a year of closed months over them
    seed_demo_campaigns,
    seed_demo_inbox,
    seed_demo_history,
    seed_buyer_notes,
    seed_demo_campaign_report,
    seed_demo_order_imports,
    seed_demo_segments,
    seed_demo_templates,
    seed_demo_autoreplies,
]
DEMO_STARTERS: list[DemoStarter] = [
    demo_followers,  # the platform's followers (some never wrote) and the day-one sync
]


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """Run every demo seeder in order."""
    for seeder in DEMO_SEEDERS:
        await seeder(sessions, config, clock)


async def replay_windows(
    sessions: async_sessionmaker[AsyncSession], fake: FakeWeChat, now: datetime
) -> int:
    """Tell the fake WeChat of recent interactions, so their 48-hour windows are open."""
    since = now - timedelta(hours=48)
    async with sessions() as session:
        rows = await session.execute(
            select(Buyer.openid, Buyer.last_interaction_at).where(
                Buyer.last_interaction_at > since, Buyer.subscribed.is_(True)
            )
        )
        count = 0
        for openid, when in rows:
            fake.open_window(openid, when)
            count += 1
    return count


# --- configuration ----------------------------------------------------------------------
def _toml(value: Any) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


def demo_config_text(data_dir: Path, host: str, port: int, keep: dict[str, Any]) -> str:
    """The demo's config.toml; `keep` holds secrets generated by an earlier run."""
    wechat = keep.get("wechat", {})
    aes_key = wechat.get("encoding_aes_key") or base64.b64encode(secrets.token_bytes(32)).decode()
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    values = {
        "server": {
            "host": host,
            "port": port,
            "public_url": f"http://{local}:{port}/",
            "spool_dir": str((data_dir / "spool").resolve()),
        },
        "wechat": {
            "appid": DEMO_APPID,
            "secret": wechat.get("secret") or secrets.token_hex(16),
            "token": wechat.get("token") or secrets.token_hex(12),
            "encoding_aes_key": aes_key.rstrip("=")[:43],
            "encrypt_mode": "safe",
            "api_base_url": f"http://{local}:{port}/",
            # The fake WeChat runs in this process; no need to wait long for it.
            "busy_backoff_s": 0.05,
        },
        "database": {"url": f"sqlite+aiosqlite:///{(data_dir / 'laoke.db').resolve()}"},
        "api": {"token": keep.get("api", {}).get("token") or secrets.token_urlsafe(24)},
    }
    lines = ["# Generated by `laoke demo`; secrets are kept across runs, the rest is rewritten."]
    for section, keys in values.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in keys.items())
    # The 收件箱 offers this template once a buyer's 48-hour window has closed.
    lines.append('\n[wechat.template_ids]\ninbox_reply = "DEMO_INBOX_REPLY_TEMPLATE"')
    for tier in DEMO_TIERS:
        lines.append("\n[[tiers.levels]]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in tier.items())
    return "\n".join(lines) + "\n"


def prepare_demo(data_dir: Path, host: str, port: int) -> Config:
    """Write the demo configuration and upgrade its database (synchronous: Alembic)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "config.toml"
    keep = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    text = demo_config_text(data_dir, host, port, keep)
    path.write_text(text, encoding="utf-8")
    config = parse_config(tomllib.loads(text), env={})
    upgrade(config.database.url)
    return config
