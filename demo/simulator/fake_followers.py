"""The simulated account's followers and tags, with the platform's rules (no HTTP here).

The follower list is kept in follow order. ``page`` answers ``user/get`` exactly as WeChat
does: ``total``, ``count``, ``data.openid`` (at most ``page_size``, 10,000 by default) and
``next_openid`` — the last openid of the page, so the page after the last one comes back
empty. ``details`` answers ``user/info/batchget`` (at most 100 openids; a follower who left
is ``subscribe: 0``; an openid the account never saw refuses the whole call with 40003).
Tags follow the platform's limits: 100 tags per account (45056), names of 1–30 characters
(45158) that no other tag has (45157), 20 tags per follower (45059, and then nobody in the
call is tagged), at most 50 openids per (un)tagging call (40032). ``user/get`` and
``batchget`` count their calls per Beijing day and answer 45009 past WeChat's daily quota.

``seed`` adds synthetic followers (subscribe times, scenes, tags) fast enough for 100,000 at a
time; ``follow``/``unfollow`` are what the chat simulator's follows and unfollows become.
Every operation is O(1) per follower touched (listing a page is O(page)).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock

PAGE_SIZE = 10_000
INFO_BATCH = 100
MEMBERS_BATCH = 50
MAX_TAGS = 100
MAX_TAG_NAME = 30
MAX_TAGS_PER_FOLLOWER = 20
FIRST_TAG_ID = 100  # ids below are the platform's own (2: 星标组)
STAR_TAG = (2, "星标组")
# WeChat's default daily quotas of the follower APIs (see WECHAT.md); 45009 past them.
DAILY_QUOTA = {"user/get": 500, "user/info/batchget": 500_000}
BEIJING = ZoneInfo("Asia/Shanghai")

SCENES = (
    ("ADD_SCENE_SEARCH", 40),
    ("ADD_SCENE_QR_CODE", 25),
    ("ADD_SCENE_PROFILE_CARD", 15),
    ("ADD_SCENE_OTHERS", 12),
    ("ADD_SCENE_ACCOUNT_MIGRATION", 8),
)
QR_SCENE_STRS = ("expo_2025", "parcel_card", "shop_1688", "business_card")

ERRMSG = {
    40003: "invalid openid",
    40032: "invalid openid list size",
    45009: "reach max api daily quota limit",
    45056: "too many tags",
    45057: "can't delete the tag that has too many fans",
    45059: "a fan in the list has too many tags",
    45157: "invalid tag name, duplicate",
    45158: "tag name too long",
    45159: "invalid tag id",
}


@dataclass(slots=True)
class Follower:
    openid: str
    subscribe_time: int  # Unix seconds, as WeChat gives it
    scene: str = "ADD_SCENE_OTHERS"
    qr_scene: int = 0
    qr_scene_str: str = ""
    unionid: str = ""
    remark: str = ""
    tags: list[int] = field(default_factory=list)

    def info(self, subscribed: bool) -> dict[str, Any]:
        if not subscribed:
            return {"subscribe": 0, "openid": self.openid}
        return {
            "subscribe": 1, "openid": self.openid, "language": "zh_CN",
            "subscribe_time": self.subscribe_time, "unionid": self.unionid or None,
            "remark": self.remark, "groupid": 0, "tagid_list": list(self.tags),
            "subscribe_scene": self.scene, "qr_scene": self.qr_scene,
            "qr_scene_str": self.qr_scene_str,
        }  # fmt: skip


class FollowerError(Exception):
    """The errcode the platform answers."""

    def __init__(self, errcode: int) -> None:
        super().__init__(ERRMSG.get(errcode, "error"))
        self.errcode = errcode


class FakeFollowers:
    """The account's followers (in follow order), those who left, and its tags."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.page_size = PAGE_SIZE
        self.quota = dict(DAILY_QUOTA)
        self.calls: Counter[tuple[str, str]] = Counter()  # (Beijing day, api) → calls
        self.known: dict[str, Follower] = {}  # everyone who ever followed
        self.order: list[str | None] = []  # follow order; None where someone left
        self.position: dict[str, int] = {}  # openid → its latest place in `order`
        self.following = 0
        self.tags: dict[int, str] = {STAR_TAG[0]: STAR_TAG[1]}
        self.tag_counts: Counter[int] = Counter()
        self._next_tag = FIRST_TAG_ID
        self._seeded = 0

    # --- followers ------------------------------------------------------------------------
    def is_following(self, openid: str) -> bool:
        place = self.position.get(openid)
        return place is not None and self.order[place] == openid

    def follow(self, openid: str, when: datetime | None = None, scene: str | None = None) -> None:
        """`openid` follows (again): to the end of the list, with this follow's time and scene."""
        when = when or self.clock.now()
        follower = self.known.get(openid)
        if follower is None:
            follower = self.known[openid] = Follower(openid, int(when.timestamp()))
        elif self.is_following(openid):
            return
        follower.subscribe_time = int(when.timestamp())
        follower.scene = "ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_SEARCH"
        follower.qr_scene_str = scene or ""
        self._append(follower)

    def unfollow(self, openid: str) -> bool:
        """`openid` leaves: off the list, their tags dropped (as the platform does)."""
        if not self.is_following(openid):
            return False
        self.order[self.position[openid]] = None
        self.following -= 1
        follower = self.known[openid]
        for tag in follower.tags:
            self.tag_counts[tag] -= 1
        follower.tags = []
        return True

    def _append(self, follower: Follower) -> None:
        self.position[follower.openid] = len(self.order)
        self.order.append(follower.openid)
        self.following += 1
        for tag in follower.tags:
            self.tag_counts[tag] += 1

    def add(self, followers: Iterable[Follower]) -> int:
        """Followers given in full (tests, the demo); ones already following are left alone."""
        added = 0
        for follower in followers:
            if self.is_following(follower.openid):
                continue
            follower.tags = [t for t in follower.tags if t in self.tags][:MAX_TAGS_PER_FOLLOWER]
            self.known[follower.openid] = follower
            self._append(follower)
            added += 1
        return added

    def seed(
        self,
        count: int,
        *,
        start: datetime,
        end: datetime,
        tags: Sequence[str] = (),
        prefix: str = "oSimFan",
        seed: int = 19,
    ) -> list[str]:
        """`count` synthetic followers who followed between `start` and `end` (in order),
        with the platform's mix of scenes and 0–2 of the named `tags` each; their openids."""
        rng = random.Random(seed + self._seeded)
        tag_ids = [self.tag_id_for(name) for name in tags]
        lo, span = start.timestamp(), max((end - start).total_seconds(), 1)
        times = sorted(int(lo + rng.random() * span) for _ in range(count))
        names, weights = zip(*SCENES, strict=True)
        scenes = rng.choices(names, weights=weights, k=count)
        openids = []
        for n, (when, scene) in enumerate(zip(times, scenes, strict=True)):
            openid = f"{prefix}{self._seeded + n:09d}"
            qr = rng.choice(QR_SCENE_STRS) if scene == "ADD_SCENE_QR_CODE" else ""
            chosen = rng.sample(tag_ids, min(len(tag_ids), rng.randint(0, 2))) if tag_ids else []
            follower = Follower(
                openid, when, scene, 0, qr, f"uSim{self._seeded + n:09d}" if n % 2 else "",
                "", chosen,
            )  # fmt: skip
            self.known[openid] = follower
            self._append(follower)
            openids.append(openid)
        self._seeded += count
        return openids

    # --- the API --------------------------------------------------------------------------
    def count_call(self, api: str) -> None:
        """One call of `api` today; FollowerError(45009) past the day's quota."""
        key = (self.clock.now().astimezone(BEIJING).date().isoformat(), api)
        if self.calls[key] >= self.quota.get(api, 1 << 62):
            raise FollowerError(45009)
        self.calls[key] += 1

    def page(self, next_openid: str = "") -> dict[str, Any]:
        """``user/get``: the followers after `next_openid` (from the start for "")."""
        start = 0
        if next_openid:
            place = self.position.get(next_openid)
            if place is None:
                raise FollowerError(40003)
            start = place + 1
        found: list[str] = []
        order, size = self.order, self.page_size
        i = start
        while i < len(order) and len(found) < size:
            if (openid := order[i]) is not None and self.position[openid] == i:
                found.append(openid)
            i += 1
        if not found:  # the page after the last: empty, and no cursor
            return {"total": self.following, "count": 0, "next_openid": ""}
        return {
            "total": self.following,
            "count": len(found),
            "data": {"openid": found},
            "next_openid": found[-1],
        }

    def details(self, openids: Sequence[str]) -> list[dict[str, Any]]:
        """``user/info/batchget`` for 1–100 openids."""
        if not 0 < len(openids) <= INFO_BATCH:
            raise FollowerError(40032)
        if any(o not in self.known for o in openids):
            raise FollowerError(40003)
        return [self.known[o].info(self.is_following(o)) for o in openids]

    # --- tags -----------------------------------------------------------------------------
    def tag_id_for(self, name: str) -> int:
        """The id of the tag called `name`, created if needed (seeding only)."""
        for tag_id, tag_name in self.tags.items():
            if tag_name == name:
                return tag_id
        return self.create_tag(name)

    def create_tag(self, name: Any) -> int:
        if not isinstance(name, str) or not 0 < len(name) <= MAX_TAG_NAME:
            raise FollowerError(45158)
        if name in self.tags.values():
            raise FollowerError(45157)
        if sum(1 for t in self.tags if t >= FIRST_TAG_ID) >= MAX_TAGS:
            raise FollowerError(45056)
        tag_id = self._next_tag
        self._next_tag += 1
        self.tags[tag_id] = name
        return tag_id

    def tag_list(self) -> list[dict[str, Any]]:
        return [
            {"id": tag_id, "name": name, "count": self.tag_counts[tag_id]}
            for tag_id, name in self.tags.items()
        ]

    def _members(self, tag_id: Any, openids: Any) -> list[Follower]:
        if not isinstance(openids, list) or not 0 < len(openids) <= MEMBERS_BATCH:
            raise FollowerError(40032)
        if tag_id not in self.tags:
            raise FollowerError(45159)
        if not all(isinstance(o, str) and self.is_following(o) for o in openids):
            raise FollowerError(40003)
        return [self.known[o] for o in openids]

    def tag(self, tag_id: Any, openids: Any) -> None:
        """Tag every follower in `openids`, or nobody when one of them is full (45059)."""
        followers = self._members(tag_id, openids)
        fresh = [f for f in followers if tag_id not in f.tags]
        if any(len(f.tags) >= MAX_TAGS_PER_FOLLOWER for f in fresh):
            raise FollowerError(45059)
        for follower in fresh:
            follower.tags.append(tag_id)
            self.tag_counts[tag_id] += 1

    def untag(self, tag_id: Any, openids: Any) -> None:
        for follower in self._members(tag_id, openids):
            if tag_id in follower.tags:
                follower.tags.remove(tag_id)
                self.tag_counts[tag_id] -= 1

    def members_of(self, tag_id: int) -> set[str]:
        """Followers carrying `tag_id` (tests)."""
        return {o for o in self.order if o is not None and tag_id in self.known[o].tags}


def default_seed_window(now: datetime) -> tuple[datetime, datetime]:
    """Three years up to a day ago: when a supplier's pre-Laoke followers followed."""
    return now - timedelta(days=3 * 365), now - timedelta(days=1)
