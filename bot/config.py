"""Configuration: one TOML file, validated once at start into typed objects.

Why pydantic: it names the offending key in its errors (``wechat.encrypt_mode``), rejects
unknown keys (``extra="forbid"``) and coerces nothing silently (``strict`` where it matters).
Secrets may come from environment variables (``LAOKE_WECHAT_SECRET`` …) so they stay out of
the file; the environment wins over the file.

This module does not open connections or read templates; it only describes and checks.
"""

from __future__ import annotations

import os
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
    # `serve` also runs campaign senders unless scaled out to `laoke worker` processes.
    run_senders: bool = True
    run_scheduler: bool = True
    # Public base URL used in links sent to buyers (chat simulator, RSVP pages).
    public_url: str = ""
    # Messages that arrive while the database cannot store them wait here (bot/spool.py).
    spool_dir: str = "data/spool"

    @field_validator("webhook_path")
    @classmethod
    def _path_starts_with_slash(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v


class WeChatConfig(Section):
    appid: str
    secret: str
    token: str
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
    # Template ids per purpose (tier_change, livestream, recall …); a purpose with no id
    # falls back to the customer-service channel or is skipped.
    template_ids: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aes_key_when_encrypted(self) -> WeChatConfig:
        if self.encrypt_mode != "plain" and len(self.encoding_aes_key) != 43:
            raise ValueError(
                "encoding_aes_key: must be the 43-character EncodingAESKey when "
                f"encrypt_mode is {self.encrypt_mode!r}"
            )
        if not self.api_base_url.endswith("/"):
            object.__setattr__(self, "api_base_url", self.api_base_url + "/")
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


class Config(Section):
    server: ServerConfig = ServerConfig()
    wechat: WeChatConfig
    database: DatabaseConfig = DatabaseConfig()
    api: ApiConfig = ApiConfig()
    card: CardConfig = CardConfig()
    tiers: TiersConfig = TiersConfig()
    orders: OrdersConfig = OrdersConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    dashboard: DashboardConfig = DashboardConfig()


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
        lines.append(f"{key}: {msg}")
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
