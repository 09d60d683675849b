"""Types every wire model shares: money as a decimal string, ids in their contract formats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, StringConstraints

ORDER_ID_PATTERN = r"^\d{16}$"
CASE_ID_PATTERN = r"^AS\d{10,14}$"
MAX_MONEY = Decimal("10000000.00")


def _parse_money(value: Any) -> Decimal:
    # Floats are refused: 0.1 + 0.2 is how refunds end up a fen off.
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("金额须为字符串形式的数字，例如 \"129.00\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError("金额格式不正确，例如 \"129.00\"") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise ValueError("金额须在 0 到 10000000.00 之间")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("金额最多两位小数")
    return amount.quantize(Decimal("0.01"))


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


class WireModel(BaseModel):
    """Request bodies refuse unknown fields so a typo is an error, not a silently ignored value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel):
    total: int
    limit: int
    offset: int
