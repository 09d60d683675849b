"""One Official Account's configuration, as given in `WECHAT_ACCOUNTS` (JSON, keyed by account name).

    WECHAT_ACCOUNTS='{"shop": {"app_id": "wx…", "app_secret": "…", "token": "…",
                               "encoding_aes_key": "…43 characters…", "mode": "safe"}}'

The key ("shop") is the last part of the webhook URL: `/channels/wechat/shop`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, model_validator

AccountName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]


class WechatAccount(BaseModel):
    """`mode` is the 消息加解密方式 chosen in the account's settings: `plain` (明文), `compatible` (兼容,
    both accepted) or `safe` (安全, AES-encrypted; plaintext bodies are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{4,32}$")]
    app_secret: SecretStr = Field(min_length=8, max_length=128)
    # The 令牌 (Token) of the server configuration: 3–32 letters or digits.
    token: SecretStr = Field(min_length=3, max_length=32)
    # The 消息加解密密钥 (EncodingAESKey): 43 letters or digits, base64 of a 32-byte AES key without its "=".
    encoding_aes_key: SecretStr | None = None
    mode: Literal["plain", "compatible", "safe"] = "safe"
    # The account's 原始ID (gh_…): when set, messages addressed to another account are refused.
    original_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None

    @model_validator(mode="after")
    def _check(self) -> WechatAccount:
        if not self.token.get_secret_value().isalnum():
            raise ValueError("the WeChat token is 3-32 letters or digits")
        key = self.encoding_aes_key.get_secret_value() if self.encoding_aes_key else None
        if key is not None and (len(key) != 43 or not key.isascii() or not key.isalnum()):
            raise ValueError("encoding_aes_key is the 43-character EncodingAESKey of the account")
        if self.mode != "plain" and key is None:
            raise ValueError(f"mode {self.mode!r} needs the account's encoding_aes_key")
        return self


DEFAULT_MENU = {
    # 自定义菜单 click keys → what the buyer "said" (text, or a /payload the bot knows).
    "AFTERSALES": "我要申请售后",
    "PROGRESS": "查询售后进度",
    "HUMAN": "转人工",
}
