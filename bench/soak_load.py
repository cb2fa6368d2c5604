"""The load bench/soak.py puts on a running installation: buyers chatting through nginx (with
WeChat's retries, some arriving at the other serve process), staff browsing the console and
reading a campaign's report over the API, and WeChat's faults injected into the simulator.

Each load keeps what the checks need (the reply each message got, latencies, failures); the
processes, the kills and the checks are bench/soak.py's.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from dataclasses import dataclass, field

import aiohttp

from demo.simulator.callback import CallbackSigner

# What buyers say: membership (tiers), the business card form, the FAQ, a handoff to staff.
PHRASES = ("会员", "你好", "发货要多久", "名片", "张三", "人工", "我的等级", "有新款吗", "谢谢")
WECHAT_TRIES = 4  # WeChat's first try and its three retries


@dataclass
class ChatLog:
    replies: dict[int, tuple[str, str | None]] = field(
        default_factory=dict
    )  # msg_id → (openid, reply)
    latencies: list[float] = field(default_factory=list)
    retried_elsewhere: int = 0
    mismatched: list[int] = field(default_factory=list)  # a retry answered differently
    lost: list[int] = field(default_factory=list)  # no answer after WeChat's retries
    failed_tries: int = 0


class Chat:
    """`buyers` buyers, each writing one message after another, as WeChat delivers them."""

    def __init__(self, signer: CallbackSigner, via: str, direct: list[str], buyers: int) -> None:
        self.signer, self.via, self.direct, self.buyers = signer, via, direct, buyers
        self.log = ChatLog()
        self._ids = itertools.count(7_000_000_000)

    async def _post(self, http: aiohttp.ClientSession, base: str, openid: str, text: str,
                    msg_id: int) -> str | None:  # fmt: skip
        params, body = self.signer.text(openid, text, msg_id=msg_id)
        started = time.perf_counter()
        async with http.post(base + "wechat", params=params, data=body,
                             timeout=aiohttp.ClientTimeout(total=5)) as resp:  # fmt: skip
            answer = await resp.read()
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
        if base == self.via:
            self.log.latencies.append(time.perf_counter() - started)
        reply = self.signer.parse_reply(answer)
        return None if reply is None else reply.get("Content", reply.get("MsgType"))

    async def deliver(self, http: aiohttp.ClientSession, openid: str, text: str, msg_id: int,
                      first: str) -> tuple[bool, str | None]:  # fmt: skip
        """WeChat's delivery: the first try at `first`, retries through nginx."""
        for attempt in range(WECHAT_TRIES):
            try:
                return True, await self._post(http, first if attempt == 0 else self.via,
                                              openid, text, msg_id)  # fmt: skip
            except (aiohttp.ClientError, TimeoutError):
                self.log.failed_tries += 1
                await asyncio.sleep(0.2)
        return False, None

    async def buyer(self, http: aiohttp.ClientSession, n: int, stop: asyncio.Event) -> None:
        openid = f"oSoakChat{n:04d}"
        rng = random.Random(n)
        while not stop.is_set():
            msg_id, text = next(self._ids), rng.choice(PHRASES)
            elsewhere = rng.random() < 0.1
            first = rng.choice(self.direct) if elsewhere else self.via
            ok, reply = await self.deliver(http, openid, text, msg_id, first)
            if not ok:
                self.log.lost.append(msg_id)
                continue
            self.log.replies[msg_id] = (openid, reply)
            if elsewhere:  # WeChat's retry of the same message reaches the other process
                other = next(d for d in self.direct if d != first)
                ok, again = await self.deliver(http, openid, text, msg_id, other)
                self.log.retried_elsewhere += 1
                if ok and again != reply:
                    self.log.mismatched.append(msg_id)
            await asyncio.sleep(rng.uniform(0.05, 0.3))

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(self.buyer(http, n, stop) for n in range(self.buyers)))


@dataclass
class StaffLog:
    pages: int = 0
    sign_in_s: float | None = None
    page_s: list[float] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    reports: int = 0


async def staff(base: str, name: str, password: str, api_token: str, campaign: asyncio.Future,
                stop: asyncio.Event, log: StaffLog) -> None:  # fmt: skip
    """Sign in to the console and browse it; read the campaign's live report over the API."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
        started = time.perf_counter()
        while log.sign_in_s is None:  # staff try again when a sign-in times out
            if stop.is_set():
                return
            try:
                async with http.get(base + "admin/login", ssl=False) as resp:
                    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
                form = {"csrf_token": csrf.group(1) if csrf else "", "next": "/admin/",
                        "name": name, "password": password}  # fmt: skip
                async with http.post(
                    base + "admin/login", data=form, ssl=False, allow_redirects=False
                ) as resp:
                    await resp.read()
                    moved = resp.headers.get("Location", "")
                    if resp.status not in (302, 303) or "/admin/login" in moved:
                        log.page_errors.append(f"sign-in refused (HTTP {resp.status})")
                        return
                log.sign_in_s = round(time.perf_counter() - started, 2)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.page_errors.append(f"sign-in: {type(exc).__name__}")
        pages = ["admin/", "admin/inbox", "admin/buyers", "admin/campaigns", "admin/orders"]
        auth = {"Authorization": f"Bearer {api_token}"}
        for page in itertools.cycle(pages):
            if stop.is_set():
                return
            try:
                started = time.perf_counter()
                async with http.get(base + page, ssl=False) as resp:
                    await resp.read()
                    log.pages += 1
                    log.page_s.append(time.perf_counter() - started)
                    if resp.status != 200:
                        log.page_errors.append(f"{page}: {resp.status}")
                if campaign.done():
                    url = f"{base}api/campaigns/{campaign.result()}/report"
                    async with http.get(url, headers=auth, ssl=False) as resp:
                        await resp.read()
                        log.reports += resp.status == 200
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.page_errors.append(f"{page}: {type(exc).__name__}")
            await asyncio.sleep(1.0)


async def faults(sim: str, stop: asyncio.Event, every_s: float) -> int:
    """WeChat's bad moments, in turn: system busy, the frequency limit, expired tokens."""
    kinds = itertools.cycle([
        {"errcode": -1, "count": 30},
        {"errcode": 45009, "count": 15},
        {"expire_tokens": True},
        {"errcode": -1, "count": 5, "on": "token"},
    ])  # fmt: skip
    injected = 0
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                async with http.post(sim + "_sim/faults", json=next(kinds)) as resp:
                    injected += resp.status == 200
    return injected
