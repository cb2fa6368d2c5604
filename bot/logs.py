"""Structured logs (one JSON object a line) with buyers' openids masked and secrets redacted.

An openid identifies a person to WeChat; logs keep only its first 4 and last 4 characters,
enough to follow one buyer through the logs without publishing who they are. Mobile numbers
keep their first 3 and last 4 digits. Secrets in URLs and JSON (``access_token=…``,
``secret=…``) are replaced by ``***``. Debug logging (``laoke -v``) never turns on loggers
that print SQL parameters or driver calls: the database driver's debug log (aiosqlite prints
every statement with its values) stays at INFO, and engines hide parameters
(``bot/database.py``).

This module does not decide what is logged; it only shapes and cleans what is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from aiohttp.http_exceptions import HttpProcessingError

_OPENID = re.compile(r"\b(o[A-Za-z0-9_-]{3})[A-Za-z0-9_-]{12,}([A-Za-z0-9_-]{4})\b")


_SECRET = re.compile(
    r"""(?i)(["']?\b(?:access_token|secret|appsecret|token|password)["']?\s*[=:]\s*["']?)"""
    r"""[^&\s"',;)]+"""
)
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_openid(text: str) -> str:
    """oAbC…wxyz: mask anything shaped like an openid."""
    return _OPENID.sub(r"\1…\2", text)


def redact(text: str) -> str:
    """A log text with openids and mobile numbers masked and secret values replaced."""
    text = _SECRET.sub(r"\1***", text)
    return _MOBILE.sub(r"\1****\2", mask_openid(text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _BadRequestsInOneLine(logging.Filter):
    """A request aiohttp cannot parse (a raw non-ASCII query, a broken request line) is the
    sender's mistake, answered 400: one warning line naming it, not an error with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and (exc.code or 500) < 500:
            reason = " ".join(str(exc.message).split())[:300]
            record.msg, record.args = "%s: %s", (record.getMessage(), f"400 {reason}")
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _BadRequestsInOneLine) for f in server_log.filters):
        server_log.addFilter(_BadRequestsInOneLine())
    # aiosqlite's debug lines carry every statement's parameters (tokens, phone numbers).
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))


class Outage:
    """The log of a loop that keeps failing (a database outage): the first failure with its
    traceback, then one line a minute while it lasts, and one line when it is over — not a
    traceback every second.

    ``failed()`` inside an ``except`` block, ``ok()`` after a pass that worked."""

    REPEAT_S = 60.0

    def __init__(self, logger: logging.Logger, what: str, monotonic=time.monotonic) -> None:
        self.log, self.what, self.monotonic = logger, what, monotonic
        self.since: float | None = None
        self.failures = 0
        self._said = 0.0

    def failed(self) -> None:
        now = self.monotonic()
        self.failures += 1
        if self.since is None:
            self.since, self._said = now, now
            self.log.exception("%s failed", self.what)
        elif now - self._said >= self.REPEAT_S:
            self._said = now
            self.log.error(
                "%s still failing (%d times in %.0fs): %s",
                self.what,
                self.failures,
                now - self.since,
                sys.exc_info()[1],
            )

    def ok(self) -> None:
        if self.since is not None:
            self.log.warning(
                "%s works again after %.0fs (%d failures)",
                self.what,
                self.monotonic() - self.since,
                self.failures,
            )
            self.since, self.failures = None, 0
