"""Configuration: one TOML file, validated once at start into typed objects.

Why pydantic: it names the offending key in its errors (``wechat.encrypt_mode``), rejects
unknown keys (``extra="forbid"``) and coerces nothing silently (``strict`` where it matters).
Secrets may come from environment variables (``LAOKE_WECHAT_SECRET`` …) so they stay out of
the file; the environment wins over the file.

This module does not open connections or read templates; it only describes and checks.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    webhook_path: str = "/wechat"
    # WeChat drops the connection after 5 s; answer `success` before that and send the
    # real reply through the customer-service API.
    reply_budget_s: float = Field(4.0, gt=0, lt=5)
    max_body_bytes: int = Field(65536, gt=0)
    # A client must send a request's head within this many seconds of connecting (or of the
    # previous answer on a kept-alive connection, which closes when idle this long) …
    header_timeout_s: float = Field(10.0, gt=0)
    # … and a callback's body within this many seconds of its head (else 408, closed).
    body_timeout_s: float = Field(5.0, gt=0)
    # `serve` also runs campaign senders unless scaled out to `laoke worker` processes.
    run_senders: bool = True
    run_scheduler: bool = True
    # Public base URL used in links sent to buyers (chat simulator, RSVP pages).
    public_url: str = ""
    # Messages that arrive while the database cannot store them wait here (bot/inbound/spool.py).
    spool_dir: str = "data/spool"

    @field_validator("webhook_path")
    @classmethod
    def _path_starts_with_slash(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v


_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")


def aes_key_problem(key: str) -> str | None:
    """Why `key` is not a usable EncodingAESKey (43 base64 characters, 32 bytes), or None."""
    if len(key) != 43:
        return f"must be the 43-character EncodingAESKey (this one has {len(key)} characters)"
    if not _AES_KEY.fullmatch(key):
        bad = next(ch for ch in key if not _AES_KEY.fullmatch(ch * 43))
        return f"must be 43 characters of A-Z, a-z, 0-9, + and / (found {bad!r})"
    try:
        decoded = base64.b64decode(key + "=", validate=True)
    except binascii.Error:
        decoded = b""
    if len(decoded) != 32:
        return "is not an EncodingAESKey (does not decode to 32 bytes); copy it from the platform"
    return None


class WeChatConfig(Section):
    appid: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    token: str = Field(min_length=1)
    encoding_aes_key: str = ""
    encrypt_mode: Literal["plain", "compat", "safe"] = "plain"
    api_base_url: str = "https://api.weixin.qq.com/"
    replay_window_s: int = Field(300, ge=0)
    timeout_s: float = Field(5.0, gt=0)
    # Refresh the cached access_token this long before WeChat says it expires.
    token_refresh_margin_s: int = Field(300, ge=0)
    # Retries of -1 (system busy) and 45009 (frequency limit), with exponential backoff.
    busy_retries: int = Field(3, ge=0)
    busy_backoff_s: float = Field(0.2, ge=0)
    # Template ids per purpose (tier_change, inbox_reply …: service notices only); a purpose
    # with no id falls back to the customer-service channel or is skipped.
    template_ids: dict[str, str] = Field(default_factory=dict)
    # The kind of Official Account and whether it is verified (认证): it decides which
    # channels exist (bot/wechat/channels.py). Template messages: verified service accounts
    # only; mass send: a service account's followers each receive at most
    # mass_per_follower_month a calendar month, a subscription account sends once a day.
    account_type: Literal["service", "subscription"] = "service"
    verified: bool = True
    mass_per_follower_month: int = Field(4, ge=0, le=31)
    mass_per_day: int = Field(1, ge=0, le=100)
    # message/mass/send calls a day (the platform's 100 for a service account), kept apart
    # from the follower sync's quotas in the same wechat_api_calls table.
    mass_calls_per_day: int = Field(100, ge=0)

    @model_validator(mode="after")
    def _aes_key_when_encrypted(self) -> WeChatConfig:
        if self.encrypt_mode != "plain" and not self.encoding_aes_key:
            raise ValueError(
                "encoding_aes_key: must be the 43-character EncodingAESKey when "
                f"encrypt_mode is {self.encrypt_mode!r}"
            )
        # A key is used whenever one is set (compat and safe mode, and plain mode reads
        # encrypted messages too), so a set key must decode.
        if self.encoding_aes_key and (problem := aes_key_problem(self.encoding_aes_key)):
            raise ValueError(f"encoding_aes_key: {problem}")
        if not self.api_base_url.endswith("/"):
            object.__setattr__(self, "api_base_url", self.api_base_url + "/")
        if self.template_ids and not (self.account_type == "service" and self.verified):
            raise ValueError(
                "template_ids: template messages need a verified service account "
                '(account_type = "service" and verified = true); remove the ids or fix '
                "account_type / verified"
            )
        return self


class DatabaseConfig(Section):
    url: str = "sqlite+aiosqlite:///data/laoke.db"
    echo: bool = False
    pool_size: int = Field(5, ge=1)

    @field_validator("url")
    @classmethod
    def _supported_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class ApiConfig(Section):
    # Bearer token for the operator JSON API under /api.
    token: str = ""
    # Largest request body the API reads (100,000 order rows as JSON are about 15 MB).
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)


class ConsoleConfig(Section):
    # A console session ends after this long without a request, and in any case this long
    # after sign-in.
    session_idle_minutes: int = Field(120, ge=1)
    session_absolute_hours: int = Field(24, ge=1)
    # Sign-in throttling: this many failed passwords within the window lock the account (or,
    # for the address count, the client address) until the oldest failure leaves the window.
    login_window_minutes: int = Field(15, ge=1)
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_address: int = Field(20, ge=1)
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client; empty:
    # the peer of the connection is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Password hashing (argon2, ~0.1 s each) runs in this many threads; at most
    # password_queue more requests wait for one, and any beyond are refused without hashing.
    password_workers: int = Field(2, ge=1, le=64)
    password_queue: int = Field(8, ge=0, le=1000)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        out = []
        for entry in v:
            try:
                out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                reason = f"{entry!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)"
                raise ValueError(reason) from None
        return out


class CardConfig(Section):
    notice_version: str = "2026-11"
    interest_categories: list[str] = Field(
        default_factory=lambda: [
            "女装",
            "男装",
            "童装",
            "鞋靴",
            "箱包",
            "饰品",
            "美妆",
            "家居",
            "食品",
            "数码",
        ]
    )
    reminder_interval_days: int = Field(7, ge=1)
    resume_after_days: int = Field(7, ge=1)
    max_attempts: int = Field(3, ge=1)


class TierConfig(Section):
    key: str
    name: str
    rank: int
    min_spend: float | None = None
    min_orders: int | None = None
    perks: list[str] = Field(default_factory=list)
    badge: str = ""
    grace_days: int = Field(0, ge=0)


class TiersConfig(Section):
    window_months: int = Field(12, ge=1)
    announce_downgrades: bool = False
    levels: list[TierConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_unique_ranks_distinct(self) -> TiersConfig:
        keys: set[str] = set()
        ranks: dict[int, str] = {}
        for i, level in enumerate(self.levels):
            if level.key in keys:
                raise ValueError(f"levels.{i}.key: tier key {level.key!r} is used twice")
            if level.rank in ranks:
                raise ValueError(
                    f"levels.{i}.rank: tier {level.key!r} has the same rank {level.rank} "
                    f"as {ranks[level.rank]!r}"
                )
            keys.add(level.key)
            ranks[level.rank] = level.key
        return self


class OrdersConfig(Section):
    # Platform exports show local time without a zone.
    timezone: str = "Asia/Shanghai"
    # Column mapping for exports with other headers: field -> header, e.g. amount = "实收金额".
    # Fields: order_no, account, phone, amount, created_at, status.
    columns: dict[str, str] = Field(default_factory=dict)
    # An order whose status contains one of these never counts (cancelled, refunded, unpaid).
    not_counted: list[str] = Field(
        default_factory=lambda: [
            "关闭",
            "取消",
            "退款",
            "等待买家付款",
            "待付款",
            "未付款",
            "closed",
            "cancel",
            "refund",
            "unpaid",
        ]
    )

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        fields = ("order_no", "account", "phone", "amount", "created_at", "status")
        for key in v:
            if key not in fields:
                raise ValueError(f"{key!r} is not an order field (one of {', '.join(fields)})")
        return v


class CampaignsConfig(Section):
    rate_limit_per_s: float = Field(200.0, gt=0)
    batch_size: int = Field(500, ge=1)
    concurrency: int = Field(64, ge=1)
    max_retries: int = Field(3, ge=0)
    retry_backoff_s: float = Field(0.5, ge=0)
    cap_per_day: int = Field(2, ge=0)
    cap_per_week: int = Field(5, ge=0)
    quiet_start: time | None = None
    quiet_end: time | None = None
    missed_grace_s: int = Field(900, ge=0)
    timezone: str = "Asia/Shanghai"


class FaqEntry(Section):
    """One ``[[faq]]`` entry: a buyer's message containing any of `keywords` gets `answer`.

    The answer is plain text sent as written (not a template). The admin's keyword
    auto-replies are tried before these entries; see ``handlers/faq.py``."""

    topic: str = Field(min_length=1, max_length=32)
    keywords: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1, max_length=600)

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, v: list[str]) -> list[str]:
        words = [w.strip() for w in v]
        if any(not w for w in words):
            raise ValueError("a keyword is empty")
        return words

    @field_validator("topic", "answer")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


class DashboardConfig(Section):
    # Days, weeks (from Monday) and months of the dashboard are cut in this time zone.
    timezone: str = "Asia/Shanghai"
    # A customer with no counted order in this many months is lapsed (流失).
    lapsed_months: int = Field(6, ge=1, le=36)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a time zone name (e.g. Asia/Shanghai)") from None
        return v


class InboxConfig(Section):
    """When staff answer the inbox, so the buyer's acknowledgement can say when they will."""

    # Opening hours, in `timezone`, as "HH:MM-HH:MM" (start before end, same day).
    business_hours: str = "09:00-18:00"
    # ISO weekdays staff work (1 = Monday … 7 = Sunday).
    business_days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6])
    timezone: str = "Asia/Shanghai"
    # Also hand every handed-off message to WeChat's own customer-service system (the
    # transfer_customer_service reply), for accounts that already answer there.
    transfer_to_wechat_kf: bool = False
    # A buyer who writes again while nobody has answered is acknowledged once more (with when
    # staff will answer) when the last acknowledgement and the last staff reply are both at
    # least this many minutes old; 0: only the first message of a conversation is answered.
    reacknowledge_after_minutes: int = Field(30, ge=0)
    # The answer time staff aim for: the 收件箱 shows each buyer's wait against it.
    response_target_minutes: int = Field(30, ge=1)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", v.strip())
        if not match:
            raise ValueError(f"{v!r}: expected HH:MM-HH:MM, e.g. 09:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{v!r}: not a time of day")
        if (h1, m1) >= (h2, m2):
            raise ValueError(f"{v!r}: the start must be before the end")
        return v.strip()

    @field_validator("business_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 or d > 7 for d in v):
            raise ValueError("expected ISO weekdays 1 (Monday) to 7 (Sunday), at least one")
        return sorted(set(v))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a time zone name (e.g. Asia/Shanghai)") from None
        return v

    def opening(self) -> tuple[time, time]:
        """The business hours as (start, end); an end of 24:00 is the end of the day."""
        start, end = self.business_hours.split("-")
        h1, m1 = (int(x) for x in start.split(":"))
        h2, m2 = (int(x) for x in end.split(":"))
        return time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)


def time_of_day(v: object) -> object:
    """ "03:30" → time(3, 30) (TOML's own 03:30:00 arrives as a time already)."""
    if isinstance(v, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"{v!r}: expected a time of day HH:MM, e.g. 03:30")
        return time(int(match.group(1)), int(match.group(2)))
    return v


class FollowersConfig(Section):
    """The follower sync (followers/): its daily run and WeChat's daily call quotas."""

    # The daily sync, in the process that runs the scheduler ([server] run_scheduler) …
    enabled: bool = True
    # … at this local time in [campaigns] timezone (TOML 03:30:00, or "03:30").
    sync_at: time = time(3, 30)
    # WeChat's daily call quotas of the account (the sync pauses before them and goes on the
    # next day): user/get (10,000 followers a call) and user/info/batchget (100 a call).
    user_get_daily_quota: int = Field(500, ge=1)
    batchget_daily_quota: int = Field(500_000, ge=1)
    # Tag calls (tags/create, tags/get, batch(un)tagging) a segment-to-tag mirror may make.
    tags_daily_quota: int = Field(100_000, ge=1)

    @field_validator("sync_at", mode="before")
    @classmethod
    def _time_of_day(cls, v: object) -> object:
        return time_of_day(v)


class StatementsConfig(Section):
    """Statements (对账单) and rebates (statements/): the period and its close."""

    # The period a statement covers: month (2026-11), quarter (2026-Q4) or year (2026),
    # in [orders] timezone.
    period: Literal["month", "quarter", "year"] = "month"
    # Ended periods are closed this many days after their end (late imports still count)…
    close_after_days: int = Field(3, ge=0, le=60)
    # … by the daily run at this local time in [campaigns] timezone, in the process that runs
    # the scheduler; false turns the daily run off (`laoke statements close` still works).
    close_enabled: bool = True
    close_at: time = time(4, 30)
    # How long a statement link sent in chat stays valid, and the key that signs it (empty:
    # derived from [wechat] secret).
    link_days: int = Field(7, ge=1, le=90)
    link_secret: str = ""

    @field_validator("close_at", mode="before")
    @classmethod
    def _time_of_day(cls, v: object) -> object:
        return time_of_day(v)


class Config(Section):
    server: ServerConfig = ServerConfig()
    wechat: WeChatConfig
    database: DatabaseConfig = DatabaseConfig()
    api: ApiConfig = ApiConfig()
    console: ConsoleConfig = ConsoleConfig()
    card: CardConfig = CardConfig()
    tiers: TiersConfig = TiersConfig()
    orders: OrdersConfig = OrdersConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    inbox: InboxConfig = InboxConfig()
    followers: FollowersConfig = FollowersConfig()
    statements: StatementsConfig = StatementsConfig()
    faq: list[FaqEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _faq_keywords_unique(self) -> Config:
        seen: dict[str, str] = {}
        for entry in self.faq:
            for word in entry.keywords:
                folded = word.lower()
                if folded in seen and seen[folded] != entry.topic:
                    raise ValueError(
                        f"faq: keyword {word!r} is in both {seen[folded]!r} and {entry.topic!r}"
                    )
                seen[folded] = entry.topic
        return self


# Environment variables that override secrets (and the database URL, which often holds one).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "LAOKE_WECHAT_APPID": ("wechat", "appid"),
    "LAOKE_WECHAT_SECRET": ("wechat", "secret"),
    "LAOKE_WECHAT_TOKEN": ("wechat", "token"),
    "LAOKE_WECHAT_ENCODING_AES_KEY": ("wechat", "encoding_aes_key"),
    "LAOKE_DATABASE_URL": ("database", "url"),
    "LAOKE_API_TOKEN": ("api", "token"),
}


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "missing (set it in the file or through its environment variable)"
        if msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        if msg.startswith(("encoding_aes_key: ",)) and key == "wechat":
            key, msg = "wechat.encoding_aes_key", msg.removeprefix("encoding_aes_key: ")
        elif err["type"] == "string_too_short":
            msg = "must not be empty"
        lines.append(f"{key}: {msg}")
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"
    return "invalid configuration:\n  " + "\n  ".join(lines)


def parse_config(data: dict, env: dict[str, str] | None = None) -> Config:
    """Validate a configuration mapping (as read from TOML) plus environment overrides."""
    env = os.environ if env is None else env
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            sect = merged.setdefault(section, {})
            if isinstance(sect, dict):
                sect[key] = env[var]
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


# The values config.example.toml ships with: a server started on them cannot work (WeChat
# would refuse the appid and secret, and anyone who read the example could sign callbacks).
PLACEHOLDERS: dict[tuple[str, str], str] = {
    ("wechat", "appid"): "wx0000000000000000",
    ("wechat", "secret"): "your-app-secret",
    ("wechat", "token"): "your-callback-token",
    ("wechat", "encoding_aes_key"): "0" * 43,
}


def refuse_placeholders(config: Config) -> None:
    """Refuse a configuration that still holds an unedited value of config.example.toml
    (``serve`` and ``worker`` call this; ``demo`` writes its own generated values)."""
    for (section, key), placeholder in PLACEHOLDERS.items():
        if getattr(getattr(config, section), key) == placeholder:
            raise ConfigError(
                f"invalid configuration: {section}.{key}: still the placeholder of "
                "config.example.toml; set the value from the Official Account platform"
            )


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a TOML configuration file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, env)
