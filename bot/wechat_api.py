"""INTERFACE STUB — being implemented (async WeChat API client with shared token cache)."""

from __future__ import annotations

from typing import Any


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    def __init__(self, config, sessionmaker, clock, http) -> None:
        self.config, self.sessionmaker, self.clock, self.http = config, sessionmaker, clock, http

    async def send_text(self, openid: str, content: str) -> dict[str, Any]:
        raise NotImplementedError

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, Any], url: str | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError
