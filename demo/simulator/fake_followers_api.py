"""The fake WeChat's follower and tag endpoints, and the control endpoints that seed followers.

Platform endpoints (token checked, faults injected ``on="followers"`` applied first):
``GET cgi-bin/user/get?next_openid=``, ``POST cgi-bin/user/info/batchget``,
``GET cgi-bin/tags/get``, ``POST cgi-bin/tags/create``,
``POST cgi-bin/tags/members/batchtagging`` and ``…/batchuntagging``. The rules and errcodes
are ``demo/simulator/fake_followers.py``'s.

Control endpoints: ``POST /_sim/followers`` adds followers — ``{"count": N, "start"?, "end"?,
"tags"?: [names], "prefix"?}`` synthetic ones (subscribe times spread between start and end,
the platform's mix of scenes, 0–2 of the tags each; 100,000 in well under a second), or
``{"followers": [{openid, subscribe_time?, subscribe_scene?, qr_scene_str?, unionid?, remark?,
tags?: [names]}]}`` exactly as given; ``POST /_sim/followers/unfollow`` ``{"openids": […]}``;
``GET /_sim/followers`` (the count, the tags and today's calls).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from demo.simulator.fake_followers import (
    ERRMSG,
    Follower,
    FollowerError,
    default_seed_window,
)
from demo.simulator.fake_http import FAKE, _answer, _faults, _json_body
from demo.simulator.fake_http import _error as _token_error

MAX_SEED = 1_000_000


def _refusal(exc: FollowerError) -> web.Response:
    return _answer(json.dumps({"errcode": exc.errcode, "errmsg": ERRMSG[exc.errcode]}).encode())


def _error(code: int) -> web.Response:
    return _refusal(FollowerError(code))


async def _checked(request: web.Request) -> web.Response | None:
    """Faults, then the access_token: a response when the call must fail."""
    if failed := await _faults(request, "followers"):
        return failed
    if code := request.app[FAKE].check_token(request.query.get("access_token")):
        return _token_error(code)
    return None


async def user_get(request: web.Request) -> web.Response:
    if failed := await _checked(request):
        return failed
    followers = request.app[FAKE].followers
    try:
        followers.count_call("user/get")
        return web.json_response(followers.page(request.query.get("next_openid", "")))
    except FollowerError as exc:
        return _refusal(exc)


async def user_batchget(request: web.Request) -> web.Response:
    if failed := await _checked(request):
        return failed
    body = await _json_body(request)
    users = body.get("user_list") if body else None
    if not isinstance(users, list):
        return _error(40032)
    openids = [u.get("openid") if isinstance(u, dict) else None for u in users]
    if not all(isinstance(o, str) and o for o in openids):
        return _error(40003)
    followers = request.app[FAKE].followers
    try:
        followers.count_call("user/info/batchget")
        return web.json_response({"user_info_list": followers.details(openids)})
    except FollowerError as exc:
        return _refusal(exc)


async def tags_get(request: web.Request) -> web.Response:
    if failed := await _checked(request):
        return failed
    return web.json_response({"tags": request.app[FAKE].followers.tag_list()})


async def tags_create(request: web.Request) -> web.Response:
    if failed := await _checked(request):
        return failed
    body = await _json_body(request)
    tag = body.get("tag") if body else None
    name = tag.get("name") if isinstance(tag, dict) else None
    try:
        tag_id = request.app[FAKE].followers.create_tag(name)
    except FollowerError as exc:
        return _refusal(exc)
    return web.json_response({"tag": {"id": tag_id, "name": name}})


def _members_endpoint(action: str):
    async def handle(request: web.Request) -> web.Response:
        if failed := await _checked(request):
            return failed
        body = await _json_body(request) or {}
        followers = request.app[FAKE].followers
        try:
            getattr(followers, action)(body.get("tagid"), body.get("openid_list"))
        except FollowerError as exc:
            return _refusal(exc)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    return handle


# --- control endpoints ------------------------------------------------------------------
def _time(value: Any, default: datetime) -> datetime:
    if value in (None, ""):
        return default
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return when


def _given(followers, rows: list[Any], now: datetime) -> list[Follower]:
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("openid"), str):
            raise ValueError("each follower needs an openid")
        when = row.get("subscribe_time")
        scene = str(row.get("qr_scene_str") or "")
        out.append(
            Follower(
                openid=row["openid"][:64],
                subscribe_time=int(when) if isinstance(when, int) else int(now.timestamp()),
                scene=str(
                    row.get("subscribe_scene")
                    or ("ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_SEARCH")
                ),
                qr_scene_str=scene,
                unionid=str(row.get("unionid") or ""),
                remark=str(row.get("remark") or "")[:30],
                tags=[followers.tag_id_for(str(n)) for n in row.get("tags") or []],
            )
        )
    return out


async def sim_add_followers(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    followers = fake.followers
    body = await _json_body(request)
    if body is None:
        raise web.HTTPBadRequest(text="expected a JSON object")
    now = fake.clock.now()
    try:
        if isinstance(body.get("followers"), list):
            if len(body["followers"]) > MAX_SEED:
                raise ValueError(f"at most {MAX_SEED:,} followers at a time")
            added = followers.add(_given(followers, body["followers"], now))
        else:
            count = body.get("count")
            if not isinstance(count, int) or not 0 <= count <= MAX_SEED:
                raise ValueError(f"count: a whole number from 0 to {MAX_SEED:,}")
            lo, hi = default_seed_window(now)
            tags = body.get("tags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("tags: a list of tag names")
            added = len(
                followers.seed(
                    count,
                    start=_time(body.get("start"), lo),
                    end=_time(body.get("end"), hi),
                    tags=tags,
                    prefix=str(body.get("prefix") or "oSimFan")[:24],
                )
            )
    except (ValueError, TypeError, OverflowError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"added": added, "total": followers.following})


async def sim_unfollow(request: web.Request) -> web.Response:
    body = await _json_body(request)
    openids = body.get("openids") if body else None
    if not isinstance(openids, list) or not all(isinstance(o, str) for o in openids):
        raise web.HTTPBadRequest(text="openids: a list of openids")
    followers = request.app[FAKE].followers
    left = sum(followers.unfollow(o) for o in openids)
    return web.json_response({"left": left, "total": followers.following})


async def sim_followers(request: web.Request) -> web.Response:
    followers = request.app[FAKE].followers
    calls = {f"{day} {api}": n for (day, api), n in followers.calls.items()}
    return web.json_response(
        {"total": followers.following, "tags": followers.tag_list(), "calls": calls}
    )


def setup_follower_routes(app: web.Application) -> None:
    """Mount the follower and tag endpoints (``app[FAKE]`` is the simulated account)."""
    app.router.add_get("/cgi-bin/user/get", user_get)
    app.router.add_post("/cgi-bin/user/info/batchget", user_batchget)
    app.router.add_get("/cgi-bin/tags/get", tags_get)
    app.router.add_post("/cgi-bin/tags/create", tags_create)
    app.router.add_post("/cgi-bin/tags/members/batchtagging", _members_endpoint("tag"))
    app.router.add_post("/cgi-bin/tags/members/batchuntagging", _members_endpoint("untag"))
    app.router.add_post("/_sim/followers", sim_add_followers)
    app.router.add_post("/_sim/followers/unfollow", sim_unfollow)
    app.router.add_get("/_sim/followers", sim_followers)
