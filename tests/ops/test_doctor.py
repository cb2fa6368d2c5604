"""``laoke doctor`` against the WeChat simulator and a running Laoke: a healthy installation
passes every check, and each fault a technician meets fails its own line with what to do."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from laoke_process import run_laoke

from bot.clock import Clock
from bot.config import Config
from bot.database import create_engine, sessionmaker, upgrade
from bot.leases import acquire_lease
from content.menu import PUBLISHED, save_menu
from demo.simulator.fake_wechat import FakeWeChatHandle, create_fake_wechat
from laoke.app import create_app
from ops.doctor import examine
from ops.findings import FAIL, OK, Finding
from scheduler.loop import LEASE_NAME

MENU = [{"name": "会员", "type": "click", "key": "MEMBER"}]


class ShiftedClock(Clock):
    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return super().now() + self.offset


class Installation:
    """A running Laoke (real clock) on a SQLite database, the simulator as WeChat, and the
    scheduler lease held by this very process."""

    def __init__(self, make_config, fake_wechat, aiohttp_server, sqlite_url: str) -> None:
        self.make_config, self.fake, self.server_factory = make_config, fake_wechat, aiohttp_server
        self.url = sqlite_url
        self.public_url = ""
        self.fake.state.add_template("TPL_TIER", "会员等级变更通知", "会员等级：{{thing1.DATA}}\n")

    def config(self, **sections) -> Config:
        wechat = {**self.fake.wechat_config(), "template_ids": {"tier_change": "TPL_TIER"}}
        server = {"public_url": self.public_url}
        return self.make_config(
            wechat={**wechat, **sections.pop("wechat", {})},
            server={**server, **sections.pop("server", {})},
            **sections,
        )

    async def start(self, *, token: str | None = None) -> None:
        """Serve Laoke (with another callback token, if given) and hold the scheduler lease."""
        served = self.config(wechat={"token": token} if token else {})
        server = await self.server_factory(create_app(served, clock=Clock()))
        self.public_url = str(server.make_url("/"))
        await self.hold_lease(os.getpid())

    async def hold_lease(self, pid: int | None) -> None:
        """The scheduler lease held by process `pid` on this machine (None: by nobody)."""
        engine = create_engine(self.url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DELETE FROM leases")
        if pid is not None:
            holder = f"scheduler:{socket.gethostname()[:24]}:{pid}:test"
            await acquire_lease(
                sessionmaker(engine), LEASE_NAME, holder, Clock().now(), timedelta(seconds=30)
            )
        await engine.dispose()

    async def publish_menu(self, buttons: list[dict]) -> None:
        engine = create_engine(self.url)
        async with sessionmaker(engine)() as session, session.begin():
            await save_menu(session, buttons, PUBLISHED, by="admin", at=Clock().now())
        await engine.dispose()
        self.fake.state.menu = [dict(b) for b in buttons]


@pytest.fixture
async def installation(make_config, aiohttp_server, sqlite_url):
    # WeChat on the same clock as this machine (the doctor compares the two).
    app = create_fake_wechat(clock=Clock(), appid="wxd0c70123456789ab", secret="doctor-secret")
    wechat = FakeWeChatHandle(app, str((await aiohttp_server(app)).make_url("/")))
    world = Installation(make_config, wechat, aiohttp_server, sqlite_url)
    await world.start()
    await world.publish_menu(MENU)
    return world


async def doctor(config: Config, clock: Clock | None = None) -> dict[str, Finding]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        return {f.check: f for f in await examine(config, clock or Clock(), http)}


async def test_a_healthy_installation_passes_every_check(installation):
    found = await doctor(installation.config())
    assert list(found) == [
        "database", "wechat token", "clock", "callback URL", "templates", "menu", "spool",
        "scheduler",
    ]  # fmt: skip
    assert [f.line() for f in found.values() if f.status == FAIL] == []
    assert "answers WeChat's verification" in found["callback URL"].detail
    assert found["templates"].status == found["menu"].status == found["scheduler"].status == OK


async def test_a_wrong_app_secret_fails_the_token_fetch(installation):
    found = await doctor(installation.config(wechat={"secret": "reset-last-week"}))
    assert found["wechat token"].status == FAIL and "AppSecret" in found["wechat token"].fix
    assert found["menu"].status == "skip"  # it needs a token


async def test_a_server_outside_the_ip_whitelist_is_told_to_add_it(installation):
    installation.fake.inject(40164, on="token")
    found = await doctor(installation.config())
    assert found["wechat token"].status == FAIL and "IP白名单" in found["wechat token"].fix


async def test_wechat_unreachable_fails_with_where_it_tried(installation):
    found = await doctor(installation.config(wechat={"api_base_url": "http://127.0.0.1:9/"}))
    assert found["wechat token"].status == FAIL
    assert "cannot reach http://127.0.0.1:9/" in found["wechat token"].detail


async def test_a_callback_server_with_another_token_is_caught(
    make_config, fake_wechat, aiohttp_server, sqlite_url
):
    world = Installation(make_config, fake_wechat, aiohttp_server, sqlite_url)
    await world.start(token="the-token-on-the-server")
    found = await doctor(world.config())
    assert found["callback URL"].status == FAIL
    assert "another [wechat] token" in found["callback URL"].fix


async def test_no_public_url_fails_the_callback_check(installation):
    found = await doctor(installation.config(server={"public_url": ""}))
    assert found["callback URL"].status == FAIL and "public_url" in found["callback URL"].detail


async def test_a_clock_ten_minutes_off_fails_the_clock_check(installation):
    found = await doctor(installation.config(), ShiftedClock(timedelta(minutes=10)))
    assert found["clock"].status == FAIL
    assert found["clock"].detail.startswith(("599 s ahead", "600 s ahead", "601 s ahead"))


async def test_an_unwritable_spool_fails(installation, tmp_path):
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("")
    found = await doctor(installation.config(server={"spool_dir": str(in_the_way / "spool")}))
    assert found["spool"].status == FAIL and "not writable" in found["spool"].detail


async def test_a_template_id_the_account_lacks_is_named(installation):
    config = installation.config(wechat={"template_ids": {"livestream": "TPL_GONE"}})
    found = await doctor(config)
    assert found["templates"].status == FAIL
    assert "livestream = TPL_GONE" in found["templates"].detail


async def test_a_menu_changed_on_the_platform_is_caught(installation):
    installation.fake.state.menu = [{"name": "官网", "type": "view", "url": "https://x.cn"}]
    found = await doctor(installation.config())
    assert found["menu"].status == FAIL and "自定义菜单" in found["menu"].fix


async def test_a_database_behind_the_latest_migration_fails(installation, tmp_path):
    old = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(old, "0017")
    found = await doctor(installation.config(database={"url": old}))
    assert found["database"].status == FAIL and "laoke db upgrade" in found["database"].fix
    assert found["scheduler"].status == "skip"


async def test_no_scheduler_running_fails(installation):
    await installation.hold_lease(None)
    found = await doctor(installation.config())
    assert found["scheduler"].status == FAIL
    assert "no process holds the scheduler lease" in found["scheduler"].detail


async def test_a_dead_lease_holder_on_this_machine_fails(installation):
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()  # a pid that no longer runs
    await installation.hold_lease(proc.pid)
    found = await doctor(installation.config())
    assert found["scheduler"].status == FAIL and "is dead" in found["scheduler"].detail


async def test_the_command_prints_one_line_per_check_and_exits_non_zero_on_a_failure(
    installation, tmp_path
):
    config = installation.config()
    path = tmp_path / "config.toml"

    async def laoke_doctor() -> tuple[int, str]:
        wechat = config.wechat
        path.write_text(
            f'[server]\npublic_url = "{config.server.public_url}"\n'
            f'spool_dir = "{config.server.spool_dir}"\n'
            f'[wechat]\nappid = "{wechat.appid}"\nsecret = "{wechat.secret}"\n'
            f'token = "{wechat.token}"\napi_base_url = "{wechat.api_base_url}"\n'
            f'[database]\nurl = "{config.database.url}"\n',
            encoding="utf-8",
        )
        code, out, _ = await run_laoke("doctor", "-c", str(path))
        return code, out

    code, out = await laoke_doctor()
    assert code == 0, out
    assert len(out.splitlines()) == 10 and out.endswith("all 9 checks passed\n")
    await installation.hold_lease(None)
    code, out = await laoke_doctor()
    assert code == 1
    assert "[FAIL] scheduler" in out and "run_scheduler = true" in out
    assert out.endswith("1 of 9 checks failed: scheduler\n")


def test_a_bad_configuration_is_one_failed_line(tmp_path):
    from click.testing import CliRunner

    from laoke.cli import main

    path = Path(tmp_path / "config.toml")
    path.write_text('[wechat]\nappid = "wx1"\nsecret = "s"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["doctor", "-c", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("[FAIL] configuration")
    assert "wechat.token" in result.output
