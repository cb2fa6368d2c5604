"""A real ``laoke worker`` process killed (SIGKILL) mid-send: nobody gets a message twice,
and nobody is left out because of the crash.

The worker sends through the WeChat simulator with latency, so a batch is in flight when it
dies. A second worker finishes the campaign; once the dead worker's lease has lapsed, the
scheduler's sweep reports as uncertain only the rows whose request had started (at most
``concurrency``) and gives the rest of its batch back to pending, to be sent. Every recipient
is accounted for, and the simulator's log shows each buyer at most once: the in-flight rows
that did reach WeChat were reported, not resent. Buyers outside the window go by mass send:
its batch in flight is sent again under the same clientmsgid, so nobody is left uncertain.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest
from campaign_harness import Harness, broadcast, config_for
from laoke_process import start_laoke
from sqlalchemy import select

from bot.clock import Clock
from scheduler.delivery import SENDER_LEASE_TTL, mark_in_flight_uncertain
from scheduler.models import Delivery

BUYERS, BATCH, CONCURRENCY = 200, 40, 10


@pytest.fixture
async def live_wechat(aiohttp_server):
    """The simulator on the real clock (the worker process runs on the real clock too)."""
    from demo.simulator.fake_wechat import FakeWeChatHandle, create_fake_wechat

    app = create_fake_wechat(clock=Clock(), appid="wxcrashtest000001", secret="crash-secret")
    server = await aiohttp_server(app)
    return FakeWeChatHandle(app, str(server.make_url("/")))


def worker_config(path: Path, fake, db_url: str) -> Path:
    w = fake.wechat_config()
    path.write_text(
        f"""[wechat]
appid = "{w["appid"]}"
secret = "{w["secret"]}"
token = "t"
api_base_url = "{w["api_base_url"]}"
[database]
url = "{db_url}"
[campaigns]
rate_limit_per_s = 1000.0
batch_size = {BATCH}
concurrency = {CONCURRENCY}
cap_per_day = 0
cap_per_week = 0
""",
        encoding="utf-8",
    )
    return path


async def start_worker(config: Path, log: Path) -> asyncio.subprocess.Process:
    return await start_laoke("worker", "-c", str(config), log=log)


async def until(condition, what: str) -> None:
    for _ in range(3000):  # a minute
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_killed_mid_batch_never_causes_a_double_send(
    make_config, live_wechat, db_url, tmp_path
):
    clock = Clock()
    async with Harness(config_for(make_config, live_wechat, db_url), clock, live_wechat) as h:
        openids = await h.add_buyers(BUYERS)
        cid = await h.campaign(broadcast(clock))
        await h.tick()  # fanned out: 200 pending rows
        live_wechat.inject(latency_ms=300)  # a batch of 40 at 10 in flight takes ~1.2 s
        config = worker_config(tmp_path / "worker.toml", live_wechat, db_url)

        first = await start_worker(config, tmp_path / "first.log")

        async def into_second_batch() -> bool:  # the first batch recorded, the second sending
            return len(h.sent_log()) >= BATCH + 5

        await until(into_second_batch, "the first worker to send")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        reached_at_kill = len(h.sent_log())
        assert reached_at_kill < 2 * BATCH  # killed before its second batch was recorded

        live_wechat.inject(latency_ms=0)
        second = await start_worker(config, tmp_path / "second.log")

        async def rest_sent() -> bool:
            counts = await h.statuses(cid)
            return counts["pending"] == 0 and counts["claimed"] + counts["sending"] <= BATCH

        await until(rest_sent, "the second worker to send the rest")
        second.send_signal(signal.SIGTERM)  # a clean stop gives its lease back
        assert await asyncio.wait_for(second.wait(), 30) == 0

        # The scheduler's sweep once the dead worker's lease has lapsed.
        async with h.sm() as session, session.begin():
            later = clock.now() + SENDER_LEASE_TTL + SENDER_LEASE_TTL / 60
            uncertain = await mark_in_flight_uncertain(session, later)
        await h.drain()  # the dead worker's rows that never started, back to pending, are sent

        async with h.sm() as session:
            rows = {d.openid: d for d in await session.scalars(select(Delivery))}
        statuses = Counter(d.status for d in rows.values())
        assert 0 < uncertain <= CONCURRENCY  # only the requests in flight at the kill
        assert statuses == {"sent": BUYERS - uncertain, "uncertain": uncertain}
        log = Counter(m["openid"] for m in h.sent_log())
        assert max(log.values()) == 1  # nobody got the broadcast twice
        sent = {o for o, d in rows.items() if d.status == "sent"}
        held = {o for o, d in rows.items() if d.status == "uncertain"}
        assert sent <= log.keys() and sent | held == set(openids)
        # Messages that reached WeChat without being recorded (requests in flight at the kill,
        # if WeChat got them) are among the uncertain ones: reported as such (reason
        # in_flight), never sent again by the second worker.
        reached_unrecorded = log.keys() - sent
        assert reached_unrecorded <= held
        assert {rows[o].reason for o in held} == {"in_flight"}


async def test_a_worker_killed_mid_mass_send_never_sends_twice_and_leaves_nobody_out(
    make_config, live_wechat, db_url, tmp_path
):
    """Buyers outside the window go by mass send: a batch in flight at the kill is sent again
    with the same clientmsgid, which WeChat answers "already sent" — so nobody is uncertain."""
    from datetime import timedelta

    clock = Clock()
    async with Harness(config_for(make_config, live_wechat, db_url), clock, live_wechat) as h:
        openids = await h.add_buyers(BUYERS, prefix="far", interacted_ago=timedelta(days=3))
        cid = await h.campaign(broadcast(clock))
        await h.tick()
        live_wechat.inject(latency_ms=400)  # each mass send of a batch of 40 takes 0.4 s
        config = worker_config(tmp_path / "worker.toml", live_wechat, db_url)
        first = await start_worker(config, tmp_path / "first.log")

        async def second_call_in_flight() -> bool:
            # The first batch is recorded as sent (not merely answered, still "sending") and
            # the next one is claimed: its call is under way for the next 0.4 s.
            counts = await h.statuses(cid)
            return counts["sent"] >= BATCH and counts["sending"] > 0

        await until(second_call_in_flight, "the worker's second mass send")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        live_wechat.inject(latency_ms=0)
        in_flight = (await h.statuses(cid))["sending"]
        assert 0 < in_flight <= BATCH

        # The sweep once the dead worker's lease has lapsed, then the rest is sent.
        async with h.sm() as session, session.begin():
            later = clock.now() + SENDER_LEASE_TTL + SENDER_LEASE_TTL / 60
            assert await mark_in_flight_uncertain(session, later) == 0
        await h.drain()

        assert (await h.statuses(cid)) == {"sent": BUYERS}
        log = Counter(m["openid"] for m in h.sent_log())
        assert set(log) == set(openids) and max(log.values()) == 1
        assert {m["kind"] for m in h.sent_log()} == {"mass"}
