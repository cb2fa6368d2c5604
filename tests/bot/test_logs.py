"""Logs: one JSON object a line with openids masked; a long outage is a few lines, not thousands."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter, Outage


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
