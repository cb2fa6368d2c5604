"""The follower list and follower details, as typed records: ``user/get`` and ``user/info/batchget``.

``user/get`` pages through every follower's openid, up to 10,000 per call: a call with the
previous answer's ``next_openid`` gives the next page, and the list is over when a page comes
back empty. ``user/info/batchget`` details up to 100 followers per call: whether they still
follow, when they (last) followed, unionid, the remark set in the MP backend, their tag ids and
how they followed (``subscribe_scene``, ``qr_scene``, ``qr_scene_str``). Nicknames and avatars
are not given since 2021.

WeChat's answers are checked and bounded here (an openid longer than the column, a remark
past 30 characters, a time that is not a number), so callers store what they get without
second-guessing it; an answer of the wrong shape raises ``WeChatAPITimeout`` ("no usable
answer"). This module does not store anything or count quota: ``followers/`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.wechat.client import WeChatAPI, WeChatAPITimeout

LIST_PAGE = 10_000  # openids per user/get answer, at most
INFO_BATCH = 100  # followers per user/info/batchget call, at most
MAX_OPENID = 64  # buyers.openid
# The platform's own bounds (remark ≤ 30 characters); kept within the columns either way.
MAX_REMARK, MAX_UNIONID, MAX_SCENE, MAX_SCENE_STR = 64, 64, 32, 64
# Unix times from before WeChat existed or past 2100 are not subscribe times.
EARLIEST_TS, LATEST_TS = 1_300_000_000, 4_102_444_800


@dataclass(frozen=True)
class FollowerPage:
    """One answer of ``user/get``: the account's follower count and a page of openids."""

    total: int
    openids: list[str]
    next_openid: str

    @property
    def last(self) -> bool:
        """The page after the final one (WeChat answers it empty)."""
        return not self.openids


@dataclass(frozen=True)
class FollowerInfo:
    """One follower as ``user/info/batchget`` describes them."""

    openid: str
    subscribed: bool
    subscribe_time: datetime | None
    unionid: str | None
    remark: str | None
    tag_ids: tuple[int, ...]
    subscribe_scene: str | None
    # qr_scene_str, else the numeric qr_scene as text (how buyers.qr_scene keeps a scene).
    qr_scene: str | None


def _openid(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_OPENID else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and EARLIEST_TS < value < LATEST_TS:
        return datetime.fromtimestamp(value, UTC)
    return None


def _scene(info: dict[str, Any]) -> str | None:
    if scene := _text(info.get("qr_scene_str"), MAX_SCENE_STR):
        return scene
    number = info.get("qr_scene")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return str(number)
    return None


def parse_page(answer: dict[str, Any]) -> FollowerPage:
    """A ``user/get`` answer as a page (openids WeChat would not send are dropped)."""
    data = answer.get("data")
    raw = data.get("openid") if isinstance(data, dict) else []
    if not isinstance(raw, list) or len(raw) > LIST_PAGE:
        raise WeChatAPITimeout(f"user/get: unexpected answer {answer!r:.100}")
    total = answer.get("total")
    next_openid = answer.get("next_openid")
    return FollowerPage(
        total=total if isinstance(total, int) and total >= 0 else 0,
        openids=[o for o in (_openid(v) for v in raw) if o],
        next_openid=next_openid if _openid(next_openid) else "",
    )


def parse_info(info: Any) -> FollowerInfo | None:
    """One entry of ``user_info_list`` (None when it names no usable openid)."""
    if not isinstance(info, dict) or not (openid := _openid(info.get("openid"))):
        return None
    tags = info.get("tagid_list")
    tag_ids = tuple(
        t for t in (tags if isinstance(tags, list) else []) if isinstance(t, int) and t >= 0
    )[:20]
    return FollowerInfo(
        openid=openid,
        subscribed=info.get("subscribe") == 1,
        subscribe_time=_time(info.get("subscribe_time")),
        unionid=_text(info.get("unionid"), MAX_UNIONID),
        remark=_text(info.get("remark"), MAX_REMARK),
        tag_ids=tag_ids,
        subscribe_scene=_text(info.get("subscribe_scene"), MAX_SCENE),
        qr_scene=_scene(info),
    )


async def list_followers(api: WeChatAPI, next_openid: str = "") -> FollowerPage:
    """The page of follower openids after `next_openid` (the first page for "")."""
    query = {"next_openid": next_openid} if next_openid else {}
    return parse_page(await api.call("GET", "cgi-bin/user/get", query=query))


async def followers_info(api: WeChatAPI, openids: Sequence[str]) -> list[FollowerInfo]:
    """Details of up to :data:`INFO_BATCH` followers (one ``user/info/batchget`` call)."""
    if not 0 < len(openids) <= INFO_BATCH:
        raise ValueError(f"batchget takes 1 to {INFO_BATCH} openids, not {len(openids)}")
    payload = {"user_list": [{"openid": o, "lang": "zh_CN"} for o in openids]}
    answer = await api.call("POST", "cgi-bin/user/info/batchget", payload)
    raw = answer.get("user_info_list")
    if not isinstance(raw, list):
        raise WeChatAPITimeout(f"user/info/batchget: unexpected answer {answer!r:.100}")
    return [info for info in (parse_info(i) for i in raw) if info is not None]
