"""Logs: one JSON object a line with openids masked; a long outage is a few lines, not thousands;
debug logging prints no token, secret or phone number."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, text

from bot.config import DatabaseConfig
from bot.database import create_engine
from bot.logs import JsonFormatter, Outage, redact, setup_logging
from bot.models import Buyer


def test_a_log_line_is_json_with_every_openid_masked():
    record = logging.LogRecord(
        "laoke.webhook",
        logging.WARNING,
        __file__,
        1,
        "from %s",
        ("oAbCdEfGhIjKlMnOpQrStUvWxYz",),
        None,
    )
    record.fields = {"openid": "oAbCdEfGhIjKlMnOpQrStUvWxYz", "count": 3}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["logger"] == "laoke.webhook"
    assert entry["msg"] == "from oAbC…WxYz" and entry["openid"] == "oAbC…WxYz"
    assert entry["count"] == 3


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_logs_its_start_once_a_minute_and_its_end(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    outage = Outage(logging.getLogger("laoke.test"), "scheduler tick", monotonic=clock)
    outage.ok()  # nothing to say while all is well
    for second in range(150):  # two and a half minutes of failing every second
        clock.now = float(second)
        try:
            raise ConnectionRefusedError("database down")
        except ConnectionRefusedError:
            outage.failed()
    clock.now = 151.0
    outage.ok()
    outage.ok()
    lines = [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records]
    assert lines == [
        ("ERROR", "scheduler tick failed", True),  # the first, with its traceback
        ("ERROR", "scheduler tick still failing (61 times in 60s): database down", False),
        ("ERROR", "scheduler tick still failing (121 times in 120s): database down", False),
        ("WARNING", "scheduler tick works again after 151s (150 failures)", False),
    ]


# --- nothing secret or personal in debug logs ------------------------------------------------

PHONE = "13812345678"


@pytest.fixture
def debug_log(capsys):
    """`laoke -v`'s logging (DEBUG, JSON lines on stderr); yields a function reading them."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(logging.DEBUG)
    yield lambda: capsys.readouterr().err
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.getLogger("aiosqlite").setLevel(logging.NOTSET)


async def test_debug_logging_prints_no_access_token_secret_or_phone(
    debug_log, make_wechat, fake_wechat, http, clock
):
    from bot.wechat.client import WeChatAPI

    wechat = await make_wechat(wechat={"api_base_url": fake_wechat.url})
    # A buyer tells us a phone number; it is stored as their card's phone.
    await wechat.send_text("oBuyerPhone0000000001", f"我的手机{PHONE}")
    async with wechat.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "oBuyerPhone0000000001"))
        buyer.phone = PHONE
        await session.commit()
    # A token fetch (stored in the shared table) and a call that carries it in its URL.
    api = WeChatAPI(wechat.services.config.wechat, wechat.sessionmaker, clock, http)
    token = await api.get_access_token()
    fake_wechat.open_window("oBuyerPhone0000000001")
    await api.send_text("oBuyerPhone0000000001", "您好")
    logged = debug_log()
    assert '"level": "debug"' in logged  # debug logging was on
    for secret in (token, PHONE, wechat.services.config.wechat.secret):
        assert secret not in logged


async def test_echoed_sql_shows_no_parameters(debug_log, sqlite_url):
    engine = create_engine(DatabaseConfig(url=sqlite_url, echo=True))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT :phone"), {"phone": PHONE})
    finally:
        await engine.dispose()
    logged = debug_log()
    assert "SELECT ?" in logged and PHONE not in logged


def test_secrets_in_urls_and_mobile_numbers_are_redacted():
    line = redact(
        "GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1"
        "&secret=S3cr3t&x=1 url='https://x/send?access_token=TOK_123' 电话 13812345678"
    )
    assert "S3cr3t" not in line and "TOK_123" not in line and "13812345678" not in line
    assert "secret=***" in line and "access_token=***" in line and "138****5678" in line
