"""Runtime configuration, read from the environment (prefix-free names, as operators expect).

Why a cached getter instead of a module-level instance: tests and the CLI build apps with
different settings in one process; nothing here is read at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.channels.wechat.config import DEFAULT_MENU as WECHAT_DEFAULT_MENU
from backend.channels.wechat.config import AccountName, WechatAccount

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy" / "policy.yaml"

# Development defaults: documented in the README, refused in production mode.
DEV_API_TOKEN = "dev-service-token"
DEV_AGENT_PASSWORD = "agent-demo-2026"
DEV_WIDGET_SECRET = "dev-widget-secret-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    app_env: Literal["development", "test", "production"] = Field("development", alias="APP_ENV")
    database_url: str = Field(f"sqlite:///{PROJECT_ROOT / 'var' / 'cases.db'}", alias="DATABASE_URL")
    upload_dir: Path = Field(PROJECT_ROOT / "var" / "uploads", alias="UPLOAD_DIR")
    policy_file: Path = Field(DEFAULT_POLICY_FILE, alias="POLICY_FILE")
    case_api_token: SecretStr = Field(SecretStr(DEV_API_TOKEN), alias="CASE_API_TOKEN")
    agent_session_hours: int = Field(12, alias="AGENT_SESSION_HOURS", ge=1, le=24 * 30)

    max_upload_bytes: int = Field(20 * 1024 * 1024, alias="MAX_UPLOAD_BYTES", ge=1024)
    max_image_pixels: int = Field(50_000_000, alias="MAX_IMAGE_PIXELS", ge=1)
    max_json_bytes: int = Field(256 * 1024, alias="MAX_JSON_BYTES", ge=1024)

    worker_threads: int = Field(8, alias="WORKER_THREADS", ge=1, le=200)

    scheduler_enabled: bool = Field(True, alias="SCHEDULER_ENABLED")
    scheduler_interval_seconds: float = Field(60.0, alias="SCHEDULER_INTERVAL_SECONDS", gt=0)

    # Chat gateway. The widget secret is shared with the shop's site, which signs the buyers' tokens.
    widget_token_secret: SecretStr = Field(SecretStr(DEV_WIDGET_SECRET), alias="WIDGET_TOKEN_SECRET")
    widget_token_max_hours: int = Field(24, alias="WIDGET_TOKEN_MAX_HOURS", ge=1, le=24 * 30)
    # One Rasa server, or several sharing a tracker store and a lock store, comma-separated: each
    # conversation sticks to one of them (production mode).
    rasa_url: str = Field("http://127.0.0.1:5005", alias="RASA_URL")
    rasa_token: SecretStr | None = Field(None, alias="RASA_TOKEN")
    rasa_timeout_seconds: float = Field(20.0, alias="RASA_TIMEOUT_SECONDS", gt=0)
    max_message_chars: int = Field(1000, alias="MAX_MESSAGE_CHARS", ge=10)
    # A buyer may send this many messages per 10 seconds, and upload this many files per 10 minutes.
    message_burst: int = Field(12, alias="MESSAGE_BURST", ge=1)
    upload_burst: int = Field(30, alias="UPLOAD_BURST", ge=1)
    push_interval_seconds: float = Field(1.0, alias="PUSH_INTERVAL_SECONDS", gt=0)
    push_enabled: bool = Field(True, alias="PUSH_ENABLED")
    # First answer to a handoff without a case deadline is due this long after it was opened.
    handoff_first_response_minutes: int = Field(10, alias="HANDOFF_FIRST_RESPONSE_MINUTES", ge=1)

    # Production mode with several backend workers: the gateway's events, rate limits and
    # per-conversation locks go through this Redis (redis://host:port/db). Unset: in-process only.
    redis_url: str | None = Field(None, alias="REDIS_URL")
    # Keys and pub/sub channels start with this (pub/sub ignores Redis database numbers, so two
    # deployments sharing one Redis need different prefixes).
    redis_prefix: str = Field("aftersales", alias="REDIS_PREFIX", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    return_address: str = Field(
        "浙江省杭州市余杭区文一西路 969 号 售后仓 收件人：售后组 电话：0571-00000000",
        alias="DEFAULT_RETURN_ADDRESS",
    )

    # WeChat Official Account channel (docs/wechat.md): on only while WECHAT_ACCOUNTS names an account.
    # JSON keyed by account name (the webhook is /channels/wechat/<name>): app_id, app_secret, token,
    # encoding_aes_key, mode (plain | compatible | safe), optional original_id.
    wechat_accounts: dict[AccountName, WechatAccount] = Field(default_factory=dict, alias="WECHAT_ACCOUNTS")
    wechat_api_base: str = Field("https://api.weixin.qq.com", alias="WECHAT_API_BASE")
    wechat_api_timeout_seconds: float = Field(5.0, alias="WECHAT_API_TIMEOUT_SECONDS", gt=0)
    # A signed request whose timestamp is further than this from our clock is refused (replays).
    wechat_timestamp_tolerance_seconds: int = Field(300, alias="WECHAT_TIMESTAMP_TOLERANCE_SECONDS", ge=10)
    wechat_max_body_bytes: int = Field(64 * 1024, alias="WECHAT_MAX_BODY_BYTES", ge=1024)
    # Customer-service text messages: at most this many UTF-8 bytes each (longer replies are split).
    wechat_text_max_bytes: int = Field(2048, alias="WECHAT_TEXT_MAX_BYTES", ge=64)
    # Refresh the access token this long before WeChat says it expires; a refresh lease lasts this long.
    wechat_token_margin_seconds: int = Field(300, alias="WECHAT_TOKEN_MARGIN_SECONDS", ge=0)
    wechat_token_lease_seconds: float = Field(15.0, alias="WECHAT_TOKEN_LEASE_SECONDS", gt=0)
    # Failed bindings (order number + phone tail) allowed per openid, and per order, in the window.
    wechat_bind_max_failures: int = Field(5, alias="WECHAT_BIND_MAX_FAILURES", ge=1)
    wechat_bind_order_max_failures: int = Field(10, alias="WECHAT_BIND_ORDER_MAX_FAILURES", ge=1)
    wechat_bind_window_minutes: int = Field(60, alias="WECHAT_BIND_WINDOW_MINUTES", ge=1)
    # Seen message ids and nonces are kept this long (WeChat retries within seconds).
    wechat_seen_retention_hours: int = Field(24, alias="WECHAT_SEEN_RETENTION_HOURS", ge=1)
    # Menu click keys → what the buyer says (text, or a /payload of the bot).
    wechat_menu: dict[str, str] = Field(default_factory=lambda: dict(WECHAT_DEFAULT_MENU), alias="WECHAT_MENU")

    # Operations (docs/operations.md). With METRICS_TOKEN set, GET /metrics needs `Authorization: Bearer <it>`.
    metrics_token: SecretStr | None = Field(None, alias="METRICS_TOKEN")
    # text: readable lines for development; json: one object per line for a log shipper. Both redacted.
    log_format: Literal["text", "json"] = Field("text", alias="LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="LOG_LEVEL")

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip() for url in self.rasa_url.split(",") if url.strip()]

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        if self.app_env == "production":
            token = self.case_api_token.get_secret_value()
            if token == DEV_API_TOKEN or len(token) < 24:
                raise ValueError(
                    "CASE_API_TOKEN must be set to a secret of at least 24 characters in production"
                )
            secret = self.widget_token_secret.get_secret_value()
            if secret == DEV_WIDGET_SECRET or len(secret) < 32:
                raise ValueError("WIDGET_TOKEN_SECRET must be set to a secret of at least 32 characters in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
