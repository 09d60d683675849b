"""Types every wire model shares: money as a decimal string, ids in their contract formats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

ORDER_ID_PATTERN = r"^[0-9]{16}$"  # [0-9], not \d: \d also matches full-width digits
CASE_ID_PATTERN = r"^AS[0-9]{10,14}$"
MAX_MONEY = Decimal("10000000.00")


def _parse_money(value: Any) -> Decimal:
    # Floats are refused: 0.1 + 0.2 is how refunds end up a fen off. Decimal() would also take
    # "1_000", full-width "１２３" and Arabic-Indic digits: only ASCII without "_" gets that far.
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("金额须为字符串形式的数字，例如 \"129.00\"")
    text = str(value).strip()
    if not text.isascii() or "_" in text:
        raise ValueError("金额格式不正确，例如 \"129.00\"")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("金额格式不正确，例如 \"129.00\"") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise ValueError("金额须在 0 到 10000000.00 之间")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("金额最多两位小数")
    return amount.quantize(Decimal("0.01"))


UPLOAD_ID_PATTERN = r"^up_[0-9a-f]{32}$"
Money = Annotated[Decimal, BeforeValidator(_parse_money), PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json")]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("时间须带时区，例如 2026-11-18T10:00:00+08:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
OrderId = Annotated[str, StringConstraints(pattern=ORDER_ID_PATTERN)]
CaseId = Annotated[str, StringConstraints(pattern=CASE_ID_PATTERN)]
BuyerId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class WireModel(BaseModel):
    """Request bodies refuse unknown fields so a typo is an error, not a silently ignored value,
    and NUL characters, which PostgreSQL text cannot hold and no buyer types."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("内容中不能包含空字符（\\u0000）")
        return data


class Page(BaseModel):
    total: int
    limit: int
    offset: int
