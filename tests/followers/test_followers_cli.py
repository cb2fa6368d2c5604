"""``laoke followers sync`` and ``laoke followers status`` as an operator runs them."""

from __future__ import annotations

import json
from datetime import timedelta

from follower_world import seed, services_for, sync_config
from laoke_process import run_laoke

from bot.leases import acquire_lease
from followers.jobs import LEASE


async def test_sync_prints_progress_and_a_summary_and_status_shows_it(
    make_config, fake_wechat, clock, sqlite_url, tmp_path
):
    seed(fake_wechat, 30, clock.now())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[wechat]\nappid = "{fake_wechat.state.appid}"\nsecret = "{fake_wechat.state.secret}"\n'
        f'token = "t"\napi_base_url = "{fake_wechat.url}"\n[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    code, out, err = await run_laoke("followers", "status", "-c", str(config))
    assert code == 0 and "no follower sync has run yet" in out
    code, out, err = await run_laoke("followers", "sync", "-c", str(config))
    assert code == 0, err
    assert "listing: 30 of 30 followers" in err
    assert "follower sync 1 done" in out
    assert "30 buyers created, 0 updated, 0 marked as left, 0 errors" in out
    assert "API calls: 2 user/get, 1 user/info/batchget" in out
    code, out, _ = await run_laoke("followers", "status", "--json", "-c", str(config))
    status = json.loads(out)
    assert (status["status"], status["trigger"], status["created"]) == ("done", "cli", 30)

    # Another machine's process runs a sync now: this one refuses, naming the job.
    async with services_for(sync_config(make_config, fake_wechat, sqlite_url), clock) as (
        maker,
        _,
    ):
        assert await acquire_lease(
            maker, LEASE, "followers:elsewhere:4242:abcd", clock.now() + timedelta(days=3650),
            timedelta(minutes=2),
        )  # fmt: skip
    code, _, err = await run_laoke("followers", "sync", "-c", str(config))
    assert code == 1 and "a follower sync is already running" in err


async def test_segment_wechat_tag_mirrors_and_refuses_in_one_line(
    fake_wechat, clock, sqlite_url, tmp_path
):
    seed(fake_wechat, 12, clock.now())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[wechat]\nappid = "{fake_wechat.state.appid}"\nsecret = "{fake_wechat.state.secret}"\n'
        f'token = "t"\napi_base_url = "{fake_wechat.url}"\n[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    assert (await run_laoke("followers", "sync", "-c", str(config)))[0] == 0
    spec = '{"field": "subscribed", "op": "eq", "value": true}'
    assert (await run_laoke("segment", "save", "全部粉丝", spec, "-c", str(config)))[0] == 0
    code, _, err = await run_laoke(
        "segment", "wechat-tag", "全部粉丝", "--tag-name", "长" * 31, "-c", str(config)
    )
    assert code == 1
    assert "laoke: tag_name: at most 30 characters (this one has 31)" in err
    assert "公众号标签名最多 30 个字" in err
    code, out, err = await run_laoke("segment", "wechat-tag", "全部粉丝", "-c", str(config))
    assert code == 0, err
    assert "segment 全部粉丝 → WeChat tag '全部粉丝'" in out and ": done" in out
    assert "12 followers carry it; 12 added, 0 removed, 0 skipped" in out
