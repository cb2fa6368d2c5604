"""The account's follower tags: ``tags/get``, ``tags/create``, ``tags/members/batch(un)tagging``.

The platform's limits, which callers must respect (and which it enforces with these errcodes):
at most :data:`MAX_TAGS` tags per account (45056), a name of at most :data:`MAX_NAME`
characters (45158) that no other tag has (45157), at most :data:`MAX_TAGS_PER_FOLLOWER` tags
on one follower (45059: the whole call is refused), and at most :data:`MEMBERS_BATCH` openids
per (un)tagging call (40032). Errors are ``WeChatAPIError`` with the errcode, as everywhere.
This module decides nothing about which followers get which tag: ``scheduler/segment_tags.py``
mirrors segments with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.wechat.client import WeChatAPI, WeChatAPITimeout

MAX_TAGS = 100
MAX_NAME = 30
MAX_TAGS_PER_FOLLOWER = 20
MEMBERS_BATCH = 50

NAME_TAKEN = 45157
TOO_MANY_TAGS = 45056
FOLLOWER_TAGS_FULL = 45059
NAME_TOO_LONG = 45158
NO_SUCH_TAG = 45159


@dataclass(frozen=True)
class WeChatTag:
    id: int
    name: str
    count: int


async def get_tags(api: WeChatAPI) -> list[WeChatTag]:
    """Every tag of the account (the platform's own 星标组 included), with follower counts."""
    answer = await api.call("GET", "cgi-bin/tags/get")
    raw = answer.get("tags")
    if not isinstance(raw, list):
        raise WeChatAPITimeout(f"tags/get: unexpected answer {answer!r:.100}")
    return [
        WeChatTag(t["id"], t["name"], t.get("count", 0) if isinstance(t.get("count"), int) else 0)
        for t in raw
        if isinstance(t, dict) and isinstance(t.get("id"), int) and isinstance(t.get("name"), str)
    ]


async def create_tag(api: WeChatAPI, name: str) -> int:
    """Create a tag; its id."""
    answer = await api.call("POST", "cgi-bin/tags/create", {"tag": {"name": name}})
    tag = answer.get("tag")
    if not isinstance(tag, dict) or not isinstance(tag.get("id"), int):
        raise WeChatAPITimeout(f"tags/create: unexpected answer {answer!r:.100}")
    return tag["id"]


async def tag_followers(api: WeChatAPI, tag_id: int, openids: Sequence[str]) -> None:
    """Put tag `tag_id` on up to :data:`MEMBERS_BATCH` followers (all or none)."""
    await _members(api, "batchtagging", tag_id, openids)


async def untag_followers(api: WeChatAPI, tag_id: int, openids: Sequence[str]) -> None:
    """Take tag `tag_id` off up to :data:`MEMBERS_BATCH` followers."""
    await _members(api, "batchuntagging", tag_id, openids)


async def _members(api: WeChatAPI, action: str, tag_id: int, openids: Sequence[str]) -> None:
    if not 0 < len(openids) <= MEMBERS_BATCH:
        raise ValueError(f"{action} takes 1 to {MEMBERS_BATCH} openids, not {len(openids)}")
    payload = {"openid_list": list(openids), "tagid": tag_id}
    await api.call("POST", f"cgi-bin/tags/members/{action}", payload)
