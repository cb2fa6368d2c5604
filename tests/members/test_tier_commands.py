"""``laoke import-orders`` and ``laoke tier …`` as an operator runs them."""

from __future__ import annotations

import gc
import json
import sqlite3
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.database import upgrade
from laoke.cli import main

CONFIG = """
[wechat]
appid = "wx1234567890abcdef"
secret = "s"
token = "t"
api_base_url = "http://127.0.0.1:9/"

[database]
url = "sqlite+aiosqlite:///{db}"

[[tiers.levels]]
key = "silver"
name = "银卡会员"
rank = 1
min_spend = 5000.0

[[tiers.levels]]
key = "gold"
name = "金卡会员"
rank = 2
min_spend = 20000.0
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "laoke.db"
    upgrade(f"sqlite+aiosqlite:///{db}")
    with sqlite3.connect(db) as conn:  # a buyer who gave their account in the card
        conn.execute(
            "INSERT INTO buyers (openid, subscribed, first_seen_at, opted_out, tags, channels,"
            " interests, orders_12m, spend_12m, orders_total, platform_account)"
            " VALUES ('oA', 1, '2026-01-01 00:00:00.000000', 0, '[]', '[]', '[]', 0, 0, 0, 'tb_a')"
        )
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(db=db), encoding="utf-8")
    return config, db


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_orders_imports_reports_bad_lines_and_sets_tiers(setup, tmp_path):
    config, db = setup
    export = tmp_path / "orders.csv"
    export.write_bytes(
        '订单编号,旺旺名,实付款,下单时间\nA1,tb_a,"￥6,000.00",2026-05-01 10:00\nA2,tb_a,x,2026-05-01\n'.encode(
            "gbk"
        )
    )
    code, out, err = run("import-orders", str(export), "-m", "account=旺旺名", "-c", str(config))
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["inserted"], summary["bad_count"], summary["tiers"]["upgrades"]) == (1, 1, 1)
    assert "line 3: paid amount 'x' is not a number" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT tier_key FROM buyers").fetchone() == ("silver",)


def test_an_imported_gbk_file_is_closed(setup, tmp_path):
    config, _ = setup
    export = tmp_path / "orders.csv"
    export.write_bytes("订单编号,旺旺名,实付款,下单时间\nA1,tb_a,10,2026-05-01\n".encode("gbk"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        code, _, err = run("import-orders", str(export), "-c", str(config))
        gc.collect()
    assert code == 0, err
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_tier_changes_are_printed_in_the_campaign_time_zone(setup):
    config, db = setup
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO tier_changes (buyer_id, from_key, to_key, reason, created_at, notice)"
            " VALUES (1, NULL, 'gold', 'manual', '2026-05-01 16:30:00.000000', 'none')"
        )
    code, out, err = run("tier", "changes", "-c", str(config))
    assert code == 0, err
    assert out.startswith("2026-05-02 00:30 buyer 1")  # 16:30 UTC is 00:30 in Shanghai


def test_import_orders_names_a_missing_column(setup, tmp_path):
    config, _ = setup
    export = tmp_path / "orders.csv"
    export.write_text("订单编号,实付款\n1,2\n", encoding="utf-8")
    code, _, err = run("import-orders", str(export), "-c", str(config))
    assert code == 1 and "missing column(s): created_at, account or phone" in err


def test_tier_set_recompute_and_changes(setup):
    config, db = setup
    code, out, err = run(
        "tier",
        "set",
        "oA",
        "gold",
        "--reason",
        "展会大客户",
        "--until",
        "2099-01-01",
        "-c",
        str(config),
    )
    assert code == 0, err
    assert json.loads(out)["to"] == "gold"
    code, out, err = run("tier", "recompute", "-c", str(config))
    assert code == 0, err
    assert json.loads(out)["changes"] == 0  # the manual tier holds
    code, out, _ = run("tier", "changes", "--openid", "oA", "-c", str(config))
    assert "- → gold (manual: 展会大客户" in out
    code, _, err = run("tier", "set", "oA", "vip", "--reason", "x", "-c", str(config))
    assert code == 1 and "unknown tier 'vip'" in err
