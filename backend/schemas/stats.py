"""The supervisors' statistics (GET /api/v1/stats): one response shape for the page and for any
other caller. Figures are computed by backend/stats/queries.py; docs/stats.md says what each means.

Shares are fractions (0.25 is 25 %), durations are hours, money is a decimal string like every
amount of the API, periods are local dates ("2026-11-20") or months ("2026-11") in the policy's
time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from backend.schemas.common import Money

Granularity = Literal["day", "month"]
AlertLevel = Literal["warning", "critical"]
AlertKind = Literal["review_time", "pending_review", "sku_refund_rate"]


class StatsRange(BaseModel):
    from_: date = Field(serialization_alias="from", description="First local day counted")
    to: date = Field(description="Last local day counted (inclusive)")
    granularity: Granularity
    timezone: str
    periods: list[str] = Field(description="Every period of the series, empty ones included")


class CodeCount(BaseModel):
    code: str
    label: str
    count: int


class PeriodVolume(BaseModel):
    period: str
    total: int
    by_reason: dict[str, int] = Field(description="Cases filed in the period, by reason code (zeros left out)")


class Volume(BaseModel):
    total: int = Field(description="Cases filed in the range")
    by_reason: list[CodeCount]
    by_remedy: list[CodeCount]
    by_status: list[CodeCount] = Field(description="Current status of the cases filed in the range")
    series: list[PeriodVolume]


class PeriodRefund(BaseModel):
    period: str
    count: int
    amount: Money


class Refunds(BaseModel):
    count: int = Field(description="Refunds paid out in the range (refund events)")
    amount: Money
    average: Money | None
    series: list[PeriodRefund]


class Durations(BaseModel):
    count: int
    avg_hours: float | None
    median_hours: float | None
    p90_hours: float | None
    max_hours: float | None


class ReviewTime(Durations):
    """Entering review → the merchant's approve/reject, for reviews decided in the range."""

    standard_hours: int
    hard_hours: int
    within_standard: int
    within_standard_share: float | None
    within_hard: int
    within_hard_share: float | None
    approved: int
    rejected: int
    auto_approved: int = Field(description="Requests approved by the policy at once, with no person")


class SlaStep(BaseModel):
    step: str
    label: str
    party: str
    total: int
    on_time: int
    late: int
    share: float | None


class Sla(BaseModel):
    total: int = Field(description="Merchant/platform steps due or done in the range")
    on_time: int
    late: int
    share: float | None
    by_step: list[SlaStep]


class Handoffs(BaseModel):
    handoffs: int = Field(description="Handoffs to a person opened in the range")
    cases: int
    cases_with_handoff: int
    case_rate: float | None
    conversations: int = Field(description="Conversations with a message or a handoff in the range")
    conversations_with_handoff: int
    conversation_rate: float | None


class RatingCount(BaseModel):
    rating: int
    count: int


class Satisfaction(BaseModel):
    count: int
    average: float | None
    distribution: list[RatingCount] = Field(description="Ratings 1–5, each with its count (zeros included)")


class Alert(BaseModel):
    kind: AlertKind
    level: AlertLevel
    title: str
    message: str
    value: float
    threshold: float
    window_days: int | None = None
    sku: str | None = None
    title_of_sku: str | None = None
    case_ids: list[str] = []


class Labels(BaseModel):
    reasons: dict[str, str]
    remedies: dict[str, str]
    statuses: dict[str, str]
    steps: dict[str, str]


class StatsOut(BaseModel):
    range: StatsRange
    generated_at: datetime
    volume: Volume
    refunds: Refunds
    review_time: ReviewTime
    resolution_time: Durations
    sla: Sla
    handoffs: Handoffs
    satisfaction: Satisfaction
    alerts: list[Alert] = Field(description="Current alerts (the last window up to now), most severe first")
    labels: Labels


def share(part: int, whole: int) -> float | None:
    """A fraction rounded for display; None rather than 0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
