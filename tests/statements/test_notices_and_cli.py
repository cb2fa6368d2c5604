"""At a close each buyer with a statement is told once, by the channel WeChat allows; the
operator closes periods with ``laoke statements close``."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

from laoke_process import run_laoke
from sqlalchemy import select
from statement_world import add_buyer, add_order

from bot.database import create_engine, sessionmaker
from bot.models import Buyer, OutboundMessage
from bot.services import open_services
from statements.models import Statement
from statements.runs import close_and_notify, daily_close

NOW = datetime(2026, 12, 5, 4, tzinfo=UTC)
IN_NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


@contextlib.asynccontextmanager
async def opened(config, clock):
    engine = create_engine(config.database)
    try:
        maker = sessionmaker(engine)
        async with open_services(config, maker, clock=clock) as services:
            yield maker, services
    finally:
        await engine.dispose()


async def test_buyers_are_told_once_by_the_channel_wechat_allows(
    make_config, fake_wechat, clock, sqlite_url
):
    clock.set(NOW)
    config = make_config(
        wechat=fake_wechat.wechat_config(), server={"public_url": "https://laoke.example.com"}
    )
    async with opened(config, clock) as (maker, services):
        talking = await add_buyer(maker, "oTalk", last_interaction_at=NOW - timedelta(hours=3))
        silent = await add_buyer(maker, "oSilent", last_interaction_at=NOW - timedelta(days=9))
        gone = await add_buyer(maker, "oGone", subscribed=False)
        for no, bid in (("T1", talking), ("S1", silent), ("G1", gone)):
            await add_order(maker, no, bid, 123_400, IN_NOV)
        fake_wechat.open_window("oTalk", NOW - timedelta(hours=3))

        result, told = await close_and_notify(maker, services, "2026-11", actor="命令行")

        assert result.statements == 3
        assert told == {"custom": 1, "stored": 1, "none": 1}
        [sent] = fake_wechat.messages("oTalk")
        assert sent["kind"] == "custom"
        text = sent["content"]
        assert "2026年11月的对账单已出" in text and "净采购 ¥1,234" in text
        assert "https://laoke.example.com/s/" in text
        async with maker() as session:
            waiting = await session.scalar(select(Buyer.pending_notice).where(Buyer.id == silent))
            assert "2026年11月的对账单已出" in waiting
            assert await session.scalar(
                select(OutboundMessage.result).where(OutboundMessage.purpose == "statement")
            ) == "ok"  # fmt: skip
        # The daily run later tells nobody twice.
        await daily_close(maker, services)
        assert len(fake_wechat.messages("oTalk")) == 1
        async with maker() as session:
            notices = set(await session.scalars(select(Statement.notice)))
        assert notices == {"custom", "stored", "none"}


async def test_outside_the_window_the_notice_is_a_typed_template_message(
    make_config, fake_wechat, clock, sqlite_url
):
    """A verified service account with a statement template: the silent buyer is told by it,
    in the template's own typed fields (WeChat drops first/remark since 2023-05)."""
    clock.set(NOW)
    wechat = fake_wechat.wechat_config() | {
        "account_type": "service", "verified": True, "template_ids": {"statement": "TPL_STMT"},
    }  # fmt: skip
    config = make_config(wechat=wechat, server={"public_url": "https://laoke.example.com"})
    async with opened(config, clock) as (maker, services):
        silent = await add_buyer(maker, "oSilent", last_interaction_at=NOW - timedelta(days=9))
        await add_order(maker, "S1", silent, 123_400, IN_NOV)

        _result, told = await close_and_notify(maker, services, "2026-11", actor="命令行")

    assert told == {"template": 1}
    [sent] = fake_wechat.messages("oSilent")
    assert sent["kind"] == "template" and sent["template_id"] == "TPL_STMT"
    assert sent["dropped"] == []  # nothing WeChat would no longer show
    assert sent["data"]["thing1"]["value"] == "2026年11月"
    assert sent["data"]["amount2"]["value"] == "¥1,234"
    assert sent["url"].startswith("https://laoke.example.com/s/")


async def test_the_operator_closes_a_period_once_from_the_terminal(sqlite_url, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\napi_base_url = "http://127.0.0.1:9/"\n'
        f'[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    # An old period (ended whatever the date the test runs on); the buyer unfollowed, so
    # nothing is sent.
    engine = create_engine(sqlite_url)
    maker = sessionmaker(engine)
    bid = await add_buyer(maker, "oA", subscribed=False)
    await add_order(maker, "N1", bid, 500_050, datetime(2025, 11, 3, 4, tzinfo=UTC))
    await engine.dispose()

    code, out, err = await run_laoke(
        "statements", "close", "--period", "2025-11", "-c", str(config)
    )
    assert code == 0, err
    assert "2025-11 closed: 1 statements, net ¥5,000.50" in out
    code, out, _ = await run_laoke("statements", "close", "--period", "2025-11", "-c", str(config))
    assert "2025-11 was already closed: 1 statements" in out
    code, _, err = await run_laoke("statements", "close", "--period", "2025-13", "-c", str(config))
    assert code == 1 and "2026-11" in err  # the expected shape, in Chinese
    code, out, _ = await run_laoke("statements", "periods", "--json", "-c", str(config))
    [period] = json.loads(out)
    assert (period["period"], period["net_cents"], period["closed_by"]) == (
        "2025-11",
        500_050,
        "命令行",
    )
