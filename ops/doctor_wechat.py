"""``laoke doctor``'s checks against the WeChat platform: the AppID and AppSecret (a token
fetch), the clock against WeChat's, the public callback URL answering WeChat's verification
with this token, and the template ids and custom menu against what the account has.

The token comes from ``cgi-bin/stable_token`` without ``force_refresh``: it answers the token
in force and never invalidates the one running servers use (``cgi-bin/token`` would, five
minutes later). These checks read; they never change anything on the account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.clock import Clock
from bot.config import Config
from bot.inbound.signature import signature_of
from content.menu import from_wechat
from ops.findings import FAIL, OK, WARN, Finding

# What to do about the errcodes a token fetch answers on a misconfigured installation.
TOKEN_FIXES = {
    40013: "the AppID is wrong: copy it from 开发 → 基本配置 into [wechat] appid",
    40125: "the AppSecret is wrong or was reset: copy the current one into [wechat] secret",
    40164: "add this server's public IP to the IP whitelist (开发 → 基本配置 → IP白名单)",
    89503: "add this server's public IP to the IP whitelist (开发 → 基本配置 → IP白名单)",
    -1: "WeChat is busy: run the doctor again in a minute",
}
SKEW_FAIL_S = 60.0
SKEW_WARN_S = 5.0


@dataclass(frozen=True)
class Token:
    value: str
    wechat_time: datetime | None  # the Date header of WeChat's answer


class Platform:
    """One doctor run's conversation with the WeChat API."""

    def __init__(self, config: Config, clock: Clock, http: aiohttp.ClientSession) -> None:
        self.config, self.clock, self.http = config, clock, http
        self.timeout = aiohttp.ClientTimeout(total=config.wechat.timeout_s)

    async def _json(self, method: str, path: str, **kwargs: Any) -> tuple[dict, datetime | None]:
        url = self.config.wechat.api_base_url + path
        async with self.http.request(method, url, timeout=self.timeout, **kwargs) as resp:
            if resp.status >= 400:
                raise aiohttp.ClientResponseError(
                    resp.request_info, (), status=resp.status, message=resp.reason or ""
                )
            data = await resp.json(content_type=None)
            date = resp.headers.get("Date")
        when = parsedate_to_datetime(date) if date else None
        return (data if isinstance(data, dict) else {}), when

    async def credentials(self) -> tuple[Finding, Token | None]:
        """A token fetch with the configured AppID and AppSecret."""
        wechat = self.config.wechat
        body = {"grant_type": "client_credential", "appid": wechat.appid, "secret": wechat.secret}
        try:
            data, when = await self._json("POST", "cgi-bin/stable_token", json=body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Finding(
                "wechat token",
                FAIL,
                f"cannot reach {wechat.api_base_url}: {type(exc).__name__} {exc}".rstrip(),
                "check DNS, the firewall and any outbound proxy ([wechat] api_base_url)",
            ), None
        if not data.get("access_token"):
            code = data.get("errcode")
            fix = TOKEN_FIXES.get(code, "see WeChat's errcode list for this code")
            msg = f"WeChat refused the token fetch: errcode {code} {data.get('errmsg', '')}"
            return Finding("wechat token", FAIL, msg.rstrip(), fix), None
        return Finding("wechat token", OK, f"AppID {wechat.appid} and its AppSecret work"), Token(
            data["access_token"], when
        )

    def clock_skew(self, token: Token) -> Finding:
        """This machine's clock against the time WeChat's answer carried."""
        if token.wechat_time is None:
            return Finding("clock", WARN, "WeChat's answer carried no time to compare with")
        skew = (self.clock.now() - token.wechat_time).total_seconds()
        limit = SKEW_FAIL_S
        if self.config.wechat.replay_window_s:
            limit = min(limit, self.config.wechat.replay_window_s / 2)
        detail = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} WeChat's clock"
        if abs(skew) > limit:
            return Finding(
                "clock",
                FAIL,
                detail,
                "synchronise the clock (timedatectl set-ntp true, or chrony): callbacks are "
                f"refused beyond [wechat] replay_window_s = {self.config.wechat.replay_window_s}",
            )
        if abs(skew) > SKEW_WARN_S:
            return Finding("clock", WARN, detail, "enable NTP (timedatectl set-ntp true)")
        return Finding("clock", OK, f"within {SKEW_WARN_S:.0f} s of WeChat's clock")

    async def callback(self) -> Finding:
        """GET the public callback URL as WeChat does when the URL is saved."""
        server = self.config.server
        if not server.public_url:
            return Finding(
                "callback URL",
                FAIL,
                "[server] public_url is empty",
                "set it to the https:// address the Official Account calls",
            )
        url = server.public_url.rstrip("/") + server.webhook_path
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(5)
        echostr = secrets.token_hex(8)
        params = {
            "signature": signature_of(self.config.wechat.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        try:
            async with self.http.get(url, params=params, timeout=self.timeout) as resp:
                status, text = resp.status, (await resp.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Finding(
                "callback URL",
                FAIL,
                f"{url} does not answer: {type(exc).__name__} {exc}".rstrip(),
                "check DNS, the firewall, nginx and that `laoke serve` runs",
            )
        if status == 403:
            return Finding(
                "callback URL",
                FAIL,
                f"{url} refused the signature",
                "the server there uses another [wechat] token, or its clock is off",
            )
        if status != 200 or text != echostr:
            return Finding(
                "callback URL",
                FAIL,
                f"{url} answered HTTP {status} without the echo WeChat expects",
                "point the proxy's location for the webhook path at `laoke serve`",
            )
        port = urlsplit(url).port
        if port not in (None, 80, 443):
            return Finding(
                "callback URL",
                WARN,
                f"{url} answers WeChat's verification, but on port {port}",
                "WeChat only calls ports 80 and 443: publish it there through nginx",
            )
        return Finding("callback URL", OK, f"{url} answers WeChat's verification with this token")

    async def template_ids(self, token: Token, wanted: dict[str, str]) -> Finding:
        """Every template id Laoke would send (configured or saved in the console) exists."""
        if not wanted:
            return Finding("templates", OK, "no template messages configured")
        try:
            data, _ = await self._json(
                "GET",
                "cgi-bin/template/get_all_private_template",
                params={"access_token": token.value},
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Finding("templates", FAIL, f"cannot list the account's templates: {exc}")
        if "template_list" not in data:
            code = data.get("errcode")
            return Finding(
                "templates",
                FAIL,
                f"WeChat refused the template list: errcode {code}",
                "the account needs template messages (a verified service account)",
            )
        known = {t.get("template_id") for t in data["template_list"]}
        missing = {p: t for p, t in wanted.items() if t not in known}
        if missing:
            listed = ", ".join(f"{p} = {t}" for p, t in sorted(missing.items()))
            return Finding(
                "templates",
                FAIL,
                f"not on the account: {listed}",
                "add them in 模板消息 on the platform, or correct [wechat.template_ids] and "
                "话术模板 → 模板消息 in the console",
            )
        return Finding("templates", OK, f"all {len(wanted)} template ids exist on the account")

    async def menu(self, token: Token, published: list[dict[str, Any]] | None) -> Finding:
        """The custom menu in force on the account is the one last published from Laoke."""
        if published is None:
            return Finding("menu", OK, "no menu published from Laoke (the account's own is kept)")
        try:
            data, _ = await self._json(
                "GET", "cgi-bin/get_current_selfmenu_info", params={"access_token": token.value}
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Finding("menu", FAIL, f"cannot read the account's menu: {exc}")
        if data.get("errcode"):
            return Finding("menu", FAIL, f"WeChat refused the menu read: errcode {data['errcode']}")
        if from_wechat(data) != published:
            return Finding(
                "menu",
                FAIL,
                "the account's menu is not the one last published from Laoke "
                "(changed in the platform's backend?)",
                "publish it again from 自定义菜单 in the console, or pull the account's menu there",
            )
        return Finding("menu", OK, "the account shows the menu last published from Laoke")
