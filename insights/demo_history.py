"""A year of history for ``laoke demo``, so the dashboard's charts and cohorts mean something.

Adds 1,200 buyers who followed over the last twelve months (more each month), some of whom
left and a few came back; their card funnel (invited, consented, confirmed, or stuck at a
question); orders with a repurchase pattern that fades month by month, refunds among them;
what they wrote; the tier changes their orders earned; and four past campaigns with their
deliveries, replies and orders. It also dates the follows and card steps of the demo's own
buyers. Deterministic (seeded), one transaction, idempotent (skipped when already there).

This module is demo data only: nothing in the product calls it.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.count_cache import clear
from bot.dialog.forms.store import FormState
from bot.inbound.events import (
    CARD_CONFIRMED,
    CARD_CONSENTED,
    CARD_INVITED,
    FOLLOW,
    UNFOLLOW,
    BuyerEvent,
)
from bot.models import Buyer, InboundMessage
from members.orders import Order, refresh_all_figures
from members.tiers import NOTICE_NONE, TierChange
from scheduler.models import Campaign, CampaignStep, Delivery

PEOPLE = 1200
PREFIX = "oHist"
WORDS = ("在吗", "新款什么时候上", "有现货吗", "发个价格表", "我的名片", "会员", "直播几点", "谢谢")
STUCK_STEPS = ("company", "business_type", "interests", "region", "phone")
CAMPAIGNS = (  # name, kind, (month, day) it is sent on: the name fits the date
    ("五一 粉丝召回", "recall", (5, 1)),
    ("春季新品直播预告", "livestream", (3, 20)),
    ("年货节群发", "broadcast", (1, 15)),
    ("双11 老客召回", "recall", (11, 11)),
)
SEND_HOUR = 10  # local time the past campaigns went out


def last_occurrence(month_day: tuple[int, int], now: datetime, tz: ZoneInfo) -> datetime:
    """The latest ``month_day`` at SEND_HOUR (local) at least a day before `now`: within the
    year of history, so 双11 is always a November and 年货节 a January."""
    local = now.astimezone(tz)
    for year in (local.year, local.year - 1):
        at = datetime(year, *month_day, SEND_HOUR, tzinfo=tz)
        if at <= local - timedelta(days=1):
            return at.astimezone(now.tzinfo)
    raise AssertionError("a date within the last year")  # pragma: no cover


@dataclass
class Person:
    openid: str
    followed: datetime
    left: datetime | None = None
    back: datetime | None = None
    invited: bool = False
    consented: bool = False
    confirmed: bool = False
    stuck: str | None = None
    card: dict = field(default_factory=dict)
    orders: list[tuple[datetime, int, bool]] = field(default_factory=list)
    messages: list[tuple[datetime, str | None]] = field(default_factory=list)

    def following_at(self, when: datetime) -> bool:
        if when < self.followed:
            return False
        if self.left and self.left <= when:
            return bool(self.back and self.back <= when)
        return True


def _openid(n: int) -> str:
    return PREFIX + hashlib.sha1(f"laoke-history-{n}".encode()).hexdigest()[:23]


def _person(n: int, rng: random.Random, now: datetime) -> Person:
    # More follows each month: the age is skewed towards the recent end of the year.
    age = timedelta(days=365 * (1 - math.sqrt(rng.random())), minutes=rng.randint(60, 1439))
    p = Person(_openid(n), now - age)
    if rng.random() < 0.12 and age > timedelta(days=3):
        p.left = p.followed + timedelta(days=rng.uniform(1, age.days - 1))
        if rng.random() < 0.25:
            p.back = p.left + (now - p.left) * rng.uniform(0.2, 0.9)
    p.messages.append((p.followed, "subscribe"))
    p.invited = rng.random() < 0.65
    p.consented = p.invited and rng.random() < 0.7
    p.confirmed = p.consented and rng.random() < 0.75
    if p.consented and not p.confirmed and rng.random() < 0.5:
        p.stuck = rng.choice(STUCK_STEPS)
    if p.confirmed:
        p.card = {
            "display_name": rng.choice("王李张刘陈杨黄赵吴周") + rng.choice(("总", "姐", "老板")),
            "company": None if rng.random() < 0.2 else rng.choice(("衣橱", "优选", "服饰")),
            "business_type": rng.choice(("taobao", "social", "store", "wholesale")),
            "channels": [] if rng.random() < 0.25 else [rng.choice(("淘宝", "抖音", "微信"))],
            "volume_min": None if rng.random() < 0.3 else 10_000,
            "phone": None if rng.random() < 0.35 else f"139{rng.randint(0, 99_999_999):08d}",
            "platform_account": None if rng.random() < 0.15 else f"hist_shop_{n}",
        }
        if p.card["platform_account"] and rng.random() < 0.8:
            _orders(p, rng, now)
    for _ in range(rng.randint(0, 6)):
        p.messages.append((p.followed + (now - p.followed) * rng.random() ** 0.5, None))
    return p


def _orders(p: Person, rng: random.Random, now: datetime) -> None:
    """A first order soon after the card, then reorders that fade month by month."""
    when = p.followed + timedelta(days=rng.uniform(0.5, 30))
    base = rng.choice((80_000, 200_000, 500_000, 1_200_000))
    k = 0
    while when < now:
        counted = rng.random() >= 0.08
        p.orders.append((when, int(base * rng.uniform(0.5, 1.6)), counted))
        if rng.random() < 0.3:
            p.messages.append((when - timedelta(hours=rng.uniform(1, 30)), None))
        k += 1
        if rng.random() > 0.62 * 0.9**k:
            break
        when += timedelta(days=rng.uniform(20, 45))


def _tier_history(p: Person, buyer_id: int, ladder, now: datetime, rng) -> tuple[list, str | None]:
    """The changes the orders earned, each when it happened; and the tier held now."""
    changes, held = [], None
    counted = sorted((t, c) for t, c, ok in p.orders if ok)
    for moment in [t for t, _ in counted] + [now]:
        window = [c for t, c in counted if moment - timedelta(days=365) < t <= moment]
        tier = ladder.earned(len(window), sum(window) / 100)
        key = tier.key if tier else None
        if key != held:
            at = moment if moment < now else now - timedelta(hours=rng.uniform(1, 200))
            if changes and at <= changes[-1]["created_at"]:  # each change after the one before
                at = changes[-1]["created_at"] + (now - changes[-1]["created_at"]) / 2
            changes.append(
                {
                    "buyer_id": buyer_id,
                    "from_key": held,
                    "to_key": key,
                    "reason": "orders",
                    "created_at": at,
                    "notice": NOTICE_NONE,
                }
            )
            held = key
    return changes, held


async def seed_demo_history(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    """A year of history (see the module docstring); nothing when it is there already."""
    from members.tiers import Ladder  # the ladder decides which tier the orders earned

    now = clock.now()
    rng = random.Random(2026)
    async with sessions() as session, session.begin():
        if await session.scalar(select(Buyer.id).where(Buyer.openid.like(f"{PREFIX}%")).limit(1)):
            return
        await _date_existing(session)
        people = [_person(n, rng, now) for n in range(PEOPLE)]
        await session.execute(insert(Buyer), [_buyer_row(p, config) for p in people])
        ids = dict(
            (
                await session.execute(
                    select(Buyer.openid, Buyer.id).where(Buyer.openid.like(f"{PREFIX}%"))
                )
            ).all()
        )
        await _campaigns(session, people, ids, rng, now, ZoneInfo(config.campaigns.timezone))
        events, orders, messages, forms, changes = [], [], [], [], []
        ladder = Ladder(config.tiers)
        for p in people:
            bid = ids[p.openid]
            events += _events(p, bid)
            for k, (when, cents, counted) in enumerate(p.orders):
                orders.append(_order_row(f"H{bid:05d}-{k:03d}", p, bid, when, cents, counted))
            for k, (when, event) in enumerate(p.messages):
                messages.append(_message_row(f"{p.openid}:{k}", p.openid, when, event))
            if p.stuck:
                forms.append(_form_row(bid, p, now))
            tier_changes, held = _tier_history(p, bid, ladder, now, rng)
            changes += tier_changes
            if held:
                await session.execute(
                    Buyer.__table__.update()
                    .where(Buyer.id == bid)
                    .values(tier_key=held, tier_since=tier_changes[-1]["created_at"])
                )
        for table, rows in (
            (BuyerEvent, events),
            (Order, orders),
            (InboundMessage, messages),
            (FormState, forms),
            (TierChange, changes),
        ):
            if rows:
                await session.execute(insert(table), rows)
        await refresh_all_figures(session, now - timedelta(days=30 * config.tiers.window_months))
        await clear(session)


async def _date_existing(session: AsyncSession) -> None:
    """The demo's own buyers were seeded as rows: date their follows and card steps."""
    rows = await session.execute(
        select(
            Buyer.id, Buyer.subscribed_at, Buyer.unsubscribed_at, Buyer.consent_at,
            Buyer.card_completed_at,
        ).where(Buyer.openid.like("oDemo%"))
    )  # fmt: skip
    events = []
    for bid, followed, left, consent, confirmed in rows:
        for kind, at in (
            (FOLLOW, followed),
            (UNFOLLOW, left),
            (CARD_INVITED, consent),
            (CARD_CONSENTED, consent),
            (CARD_CONFIRMED, confirmed),
        ):
            if at is not None:
                events.append({"buyer_id": bid, "kind": kind, "at": at})
    if events:
        await session.execute(insert(BuyerEvent), events)


def _buyer_row(p: Person, config: Config) -> dict:
    last = max(t for t, _ in p.messages)
    row = {
        "openid": p.openid,
        "first_seen_at": p.followed,
        "subscribed": p.following_at(datetime.max.replace(tzinfo=p.followed.tzinfo)),
        "subscribed_at": p.back or p.followed,
        "unsubscribed_at": p.left if p.left and not p.back else None,
        "last_interaction_at": last,
        "tags": [],
        "channels": [],
        "interests": [],
    }
    if p.consented:
        row.update(consent_at=p.followed + timedelta(minutes=2))
        row["consent_version"] = config.card.notice_version
    if p.confirmed:
        row.update(p.card, card_completed_at=p.followed + timedelta(minutes=9))
        row["interests"] = ["女装"]
        row["volume_max"] = row["volume_min"] and row["volume_min"] * 2
    return row


def _events(p: Person, bid: int) -> list[dict]:
    rows = [(FOLLOW, p.followed)]
    if p.left:
        rows.append((UNFOLLOW, p.left))
    if p.back:
        rows.append((FOLLOW, p.back))
    steps = ((p.invited, CARD_INVITED, 1), (p.consented, CARD_CONSENTED, 2))
    rows += [(kind, p.followed + timedelta(minutes=m)) for ok, kind, m in steps if ok]
    if p.confirmed:
        rows.append((CARD_CONFIRMED, p.followed + timedelta(minutes=9)))
    return [{"buyer_id": bid, "kind": kind, "at": at} for kind, at in rows]


def _order_row(no: str, p: Person, bid: int, when: datetime, cents: int, counted: bool) -> dict:
    return {
        "order_no": no,
        "account": p.card.get("platform_account"),
        "phone": None,
        "amount_cents": cents,
        "ordered_at": when,
        "status": "交易成功" if counted else "退款成功",
        "counted": counted,
        "buyer_id": bid,
        "first_import": "demo-history",
        "last_import": "demo-history",
        "updated_at": when,
    }


def _message_row(key: str, openid: str, when: datetime, event: str | None) -> dict:
    text = WORDS[hash(key) % len(WORDS)] if event is None else None
    return {
        "dedup_key": key,
        "openid": openid,
        "msg_type": "event" if event else "text",
        "event": event,
        "content": text,
        "wechat_created_at": when,
        "received_at": when,
        "status": "done",
        "deferred": False,
    }


def _form_row(bid: int, p: Person, now: datetime) -> dict:
    at = p.followed + timedelta(minutes=3)
    return {
        "buyer_id": bid,
        "form": "card",
        "step": p.stuck,
        "values": {},
        "history": [],
        "attempts": 0,
        "status": "paused",
        "started_at": at,
        "updated_at": at,
        "version": 1,
    }


async def _campaigns(session: AsyncSession, people, ids, rng, now: datetime, tz: ZoneInfo) -> None:
    """Past campaigns sent to the buyers following then; some replied, some ordered."""
    for name, kind, month_day in CAMPAIGNS:
        sent = last_occurrence(month_day, now, tz) + timedelta(minutes=rng.randint(0, 360))
        campaign = Campaign(
            name=name, kind=kind, status="done", params={}, all_day=kind == "recall",
            created_at=sent - timedelta(days=2), updated_at=sent, finished_at=sent,
        )  # fmt: skip
        session.add(campaign)
        await session.flush()
        reached = [p for p in people if p.following_at(sent)]
        step_kind = {"recall": "wave", "livestream": "announce", "broadcast": "broadcast"}[kind]
        step = CampaignStep(
            campaign_id=campaign.id, kind=step_kind, due_at=sent, status="done",
            fanned_out_at=sent, finished_at=sent, recipients=len(reached),
        )  # fmt: skip
        session.add(step)
        await session.flush()
        rows = []
        for p in reached:
            outside = rng.random() < 0.15
            rows.append(
                {
                    "step_id": step.id, "campaign_id": campaign.id, "buyer_id": ids[p.openid],
                    "openid": p.openid, "requested": False,
                    "status": "skipped" if outside else "sent",
                    "reason": "outside_window" if outside else None,
                    "channel": None if outside else "custom", "attempts": 0 if outside else 1,
                    "sent_at": None if outside else sent, "created_at": sent,
                }
            )  # fmt: skip
            if outside:
                continue
            if rng.random() < 0.14:
                when = sent + timedelta(hours=rng.uniform(0.2, 40))
                if when < now:  # a campaign of yesterday: the replies so far
                    p.messages.append((when, None))
            if p.card.get("platform_account") and rng.random() < 0.12:
                when = sent + timedelta(days=rng.uniform(0.1, 6.5))
                if when < now:
                    p.orders.append((when, rng.randint(50_000, 600_000), True))
        if rows:
            await session.execute(insert(Delivery), rows)
