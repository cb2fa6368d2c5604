"""`laoke segment …` and `laoke campaign …` through click's CliRunner on a migrated SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.clock import Clock
from bot.database import create_engine, sessionmaker
from bot.models import Buyer
from laoke.cli import main

GOLD = '{"field": "tier", "op": "eq", "value": "gold"}'


@pytest.fixture
def laoke(tmp_path, sqlite_url):
    """Run `laoke ARGS -c config.toml`; returns (exit code, stdout — or stderr on failure)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n[database]\nurl = "{sqlite_url}"\n'
        '[[tiers.levels]]\nkey = "silver"\nname = "银卡"\nrank = 1\n'
        '[[tiers.levels]]\nkey = "gold"\nname = "金卡"\nrank = 2\n',
        encoding="utf-8",
    )
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
        result = runner.invoke(main, [*args, "-c", str(config)], input=input)
        return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr

    return invoke


@pytest.fixture
def buyers(sqlite_url):
    async def seed() -> None:
        engine = create_engine(sqlite_url)
        now = Clock().now()
        async with sessionmaker(engine).begin() as session:
            for i, tier in enumerate(["gold", "gold", None]):
                session.add(
                    Buyer(
                        openid=f"oB{i}",
                        tier_key=tier,
                        first_seen_at=now,
                        last_interaction_at=now - timedelta(days=3),
                        display_name=f"买家{i}",
                        tags=[],
                        channels=[],
                        interests=[],
                    )
                )
        await engine.dispose()

    asyncio.run(seed())


def test_segment_save_list_show_delete(laoke):
    code, out = laoke("segment", "save", "gold", GOLD, "--description", "金卡")
    assert code == 0 and '"value": "gold"' in out
    code, out = laoke("segment", "list")
    assert code == 0 and "gold" in out and "金卡" in out
    code, out = laoke("segment", "show", "gold", "--json")
    assert json.loads(out)["spec"]["value"] == "gold"
    code, out = laoke("segment", "delete", "gold")
    assert code == 0 and "deleted segment gold" in out
    code, out = laoke("segment", "show", "gold")
    assert code == 1 and "no segment named 'gold'" in out


def test_segment_spec_from_stdin_and_replace(laoke):
    assert laoke("segment", "save", "s", "-", input=GOLD)[0] == 0
    code, out = laoke("segment", "save", "s", GOLD)
    assert code == 1 and "already exists" in out
    silver = '{"field": "tier", "op": "eq", "value": "silver"}'
    code, out = laoke("segment", "save", "s", silver, "--replace", "--json")
    assert code == 0 and json.loads(out)["spec"]["value"] == "silver"


def test_bad_segment_is_refused_with_its_path(laoke):
    code, out = laoke(
        "segment", "save", "bad", '{"all": [{"field": "tier", "op": "gt", "value": 1}]}'
    )
    assert code == 1
    assert "all[0].op: tier does not take operator 'gt'" in out
    code, out = laoke("segment", "save", "bad", "{not json")
    assert code == 2 and "not valid JSON" in out


def test_segment_preview_prints_count_and_sample(laoke, buyers):
    laoke("segment", "save", "gold", GOLD)
    code, out = laoke("segment", "preview", "gold", "--sample", "1")
    assert code == 0 and "2 buyers match; 2 can receive campaigns" in out
    assert "oB0" in out and "oB1" not in out
    code, out = laoke("segment", "preview", "--spec", GOLD, "--json")
    assert json.loads(out)["count"] == 2 and json.loads(out)["reachable"] == 2


def test_segment_fields_lists_every_field(laoke):
    result = CliRunner().invoke(main, ["segment", "fields"])
    assert "days_since_interaction" in result.output and "contains_any" in result.output
    code, out = laoke("segment", "fields")  # with -c, like every other command
    assert code == 0 and "days_since_interaction" in out


def test_commands_print_no_alembic_lines(laoke, tmp_path):
    result = CliRunner().invoke(main, ["campaign", "list", "-c", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.stderr
    assert "alembic" not in result.stderr and "Context impl" not in result.stderr


def test_times_are_printed_in_the_campaign_time_zone(laoke):
    send_at = (Clock().now() + timedelta(days=2)).replace(second=0, microsecond=0)
    spec = json.dumps(
        {"kind": "broadcast", "name": "上新", "send_at": send_at.isoformat(), "text": "新"}
    )
    laoke("campaign", "create", spec)
    local = send_at.astimezone(ZoneInfo("Asia/Shanghai"))
    code, out = laoke("campaign", "show", "1")
    assert code == 0 and "DUE (Asia/Shanghai)" in out
    assert f"{local:%Y-%m-%d %H:%M}" in out and f"{send_at:%Y-%m-%d %H:%M}" not in out
    code, out = laoke("campaign", "list")
    assert "CREATED (Asia/Shanghai)" in out


def broadcast_spec(**extra) -> str:
    send_at = (Clock().now() + timedelta(hours=2)).isoformat()
    return json.dumps(
        {"kind": "broadcast", "name": "上新", "send_at": send_at, "text": "新品", **extra}
    )


def test_campaign_create_schedule_pause_resume_cancel(laoke):
    code, out = laoke("campaign", "create", broadcast_spec(), "--json")
    assert code == 0, out
    cid = str(json.loads(out)["id"])
    assert json.loads(out)["status"] == "draft"
    for action, status in [
        ("schedule", "scheduled"),
        ("pause", "paused"),
        ("resume", "scheduled"),
        ("cancel", "cancelled"),
    ]:
        code, out = laoke("campaign", action, cid)
        assert code == 0 and f"campaign {cid} is now {status}" in out
    code, out = laoke("campaign", "resume", cid)
    assert code == 1 and "cannot resume" in out


def test_campaign_list_and_show(laoke):
    laoke("campaign", "create", broadcast_spec(), "--schedule")
    code, out = laoke("campaign", "list")
    assert code == 0 and "broadcast" in out and "scheduled" in out and "上新" in out
    code, out = laoke("campaign", "show", "1")
    assert code == 0 and "#1 上新" in out and "STEP" in out


def test_campaign_create_refuses_a_missing_saved_segment(laoke):
    code, out = laoke("campaign", "create", broadcast_spec(segment_name="nope"))
    assert code == 1 and "segment_name: no segment named 'nope'" in out


def test_campaign_create_refuses_bad_spec_naming_the_field(laoke):
    code, out = laoke("campaign", "create", '{"kind": "broadcast", "name": "x", "text": "t"}')
    assert code == 1 and "send_at" in out


def test_campaign_preview_renders_for_sample_buyers(laoke, buyers):
    code, out = laoke("campaign", "create", broadcast_spec(segment=json.loads(GOLD)), "--json")
    cid = str(json.loads(out)["id"])
    code, out = laoke("campaign", "preview", cid, "--sample", "5")
    assert code == 0 and "to oB0" in out and "to oB1" in out and "oB2" not in out


def test_campaign_report_reads_even_before_sending(laoke):
    laoke("campaign", "create", broadcast_spec())
    code, out = laoke("campaign", "report", "1")
    assert code == 0 and "recipients" in out and "wrote back within 48 h" in out
    code, out = laoke("campaign", "report", "1", "--json")
    assert json.loads(out)["recipients"] == 0
    code, out = laoke("campaign", "report", "99")
    assert code == 1 and "no campaign with id 99" in out


def test_tables_line_up_chinese_names_by_display_width():
    from bot.cli_support import _width, table

    lines = table([["王姐", "gold"], ["徐老板", "silver"], ["Amy", "-"]], ["NAME", "TIER"]).split(
        "\n"
    )
    columns = {
        _width(line[: line.index(tier)])
        for line, tier in zip(lines, ["TIER", "gold", "silver", "-"], strict=True)
    }
    assert columns == {8}  # "徐老板" is 6 columns wide, plus the 2-space gap


def test_segment_save_refuses_a_misspelt_tier_naming_the_tiers(laoke):
    code, out = laoke("segment", "save", "typo", '{"field": "tier", "op": "eq", "value": "golden"}')
    assert code != 0 and "golden" in out and "silver (银卡), gold (金卡)" in out
    assert "typo" not in laoke("segment", "list")[1]
