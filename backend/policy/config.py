"""Typed model of `policy.yaml` and its loader.

The file is the product's core, so it is validated strictly (unknown keys refused, every rule the
engine needs present, every code a known enum value); a bad file fails start-up with the path of
the offending field rather than surfacing as a wrong decision later.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.vocab import CaseStatus, ItemFlag, MaterialCode, Party, Reason, Remedy


class PolicyFileError(RuntimeError):
    """The policy file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReasonSpec(_Strict):
    label: str
    fault: Literal["buyer", "seller", "none"]


class RemedySpec(_Strict):
    label: str
    return_leg: bool


class MaterialSpec(_Strict):
    label: str
    kind: Literal["text", "image", "video", "confirmation", "tracking"]
    min_count: int = Field(1, ge=1)
    min_chars: int = Field(0, ge=0)
    hint: str = ""


class Tier(_Strict):
    max_days: int = Field(ge=0)
    remedies: list[Remedy]
    basis: str


class Rule(_Strict):
    basis: str = ""
    remedies: list[Remedy] = []
    max_days: int | None = Field(None, ge=0)
    review: bool = False
    review_remedies: list[Remedy] = []
    reasons: list[Reason] = []
    flags: list[ItemFlag] = []
    tiers: list[Tier] = []
    late_basis: str | None = None
    max_cases_per_item: int | None = Field(None, ge=1)
    stale_logistics_days: int | None = Field(None, ge=1)


class ReviewBasis(_Strict):
    amount: str
    frequent: str
    shared_evidence: str
    manual_amount: str


class ReviewSpec(_Strict):
    amount_threshold: Decimal = Field(gt=0)
    recent_cases_threshold: int = Field(ge=1)
    recent_cases_window_days: int = Field(ge=1)
    review_remedies: list[Remedy]
    basis: ReviewBasis


class MoneySpec(_Strict):
    overdue_penalty_rate_per_day: Decimal = Field(ge=0, lt=1)


class DeadlineSpec(_Strict):
    party: Party
    label: str
    on_expiry: Literal["escalate", "alert", "close", "penalty"]
    working_days: int | None = Field(None, ge=1)
    calendar_days: int | None = Field(None, ge=1)
    hours: int | None = Field(None, ge=1)
    hard_hours: int | None = Field(None, ge=1)
    reminder_after_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _exactly_one_span(self) -> "DeadlineSpec":
        spans = [s for s in (self.working_days, self.calendar_days, self.hours) if s is not None]
        if len(spans) != 1:
            raise ValueError("give exactly one of working_days, calendar_days, hours")
        return self


class ReviewAlertSpec(_Strict):
    """Review time (seed 002 §7): approved within `standard_hours` of the automatic check, never later
    than `hard_hours`; alerts look at the reviews decided in the last `window_days`."""

    window_days: int = Field(ge=1)
    standard_hours: int = Field(ge=1)
    hard_hours: int = Field(ge=1)
    percentile: int = Field(ge=50, le=99)
    min_reviews: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ReviewAlertSpec":
        if self.hard_hours < self.standard_hours:
            raise ValueError("hard_hours must be at least standard_hours")
        return self


class SkuRefundAlertSpec(_Strict):
    """A SKU's refund rate (seed 002 §8): refund requests / orders in the window, judged only with
    enough orders, and only when it is also a multiple of the platform's own rate."""

    window_days: int = Field(ge=1)
    min_orders: int = Field(ge=1)
    rate_warning: Decimal = Field(gt=0, le=1)
    rate_critical: Decimal = Field(gt=0, le=1)
    platform_multiple: Decimal = Field(ge=1)
    refund_remedies: list[Remedy] = Field(min_length=1)
    exclude_statuses: list[CaseStatus] = []

    @model_validator(mode="after")
    def _ordered(self) -> "SkuRefundAlertSpec":
        if self.rate_critical < self.rate_warning:
            raise ValueError("rate_critical must be at least rate_warning")
        return self


class StatsAlertsSpec(_Strict):
    review_time: ReviewAlertSpec
    sku_refund_rate: SkuRefundAlertSpec


class StatsSpec(_Strict):
    """The supervisors' statistics page (backend/stats, docs/stats.md)."""

    max_range_days: int = Field(ge=1)
    default_range_days: int = Field(ge=1)
    alerts: StatsAlertsSpec

    @model_validator(mode="after")
    def _default_fits(self) -> "StatsSpec":
        if self.default_range_days > self.max_range_days:
            raise ValueError("default_range_days must not exceed max_range_days")
        return self


# Rule ids the engine evaluates, with the fields each one cannot do without.
RULE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "R-CASE-LIMIT": ("max_cases_per_item",),
    "R-UNSHIPPED": ("remedies",),
    "R-TRANSIT-LATE": ("remedies", "stale_logistics_days"),
    "R-TRANSIT-WAIT": (),
    "R-SIGNED-NOT-RECEIVED": ("remedies", "max_days"),
    "R-PERISHABLE": ("remedies", "max_days", "reasons", "late_basis"),
    "R-7DAY-EXCLUDED": ("flags",),
    "R-7DAY-LATE": (),
    "R-7DAY": ("remedies", "max_days"),
    "R-QUALITY-7": ("remedies", "max_days"),
    "R-QUALITY-15": ("remedies", "max_days"),
    "R-QUALITY-WARRANTY": ("remedies",),
    "R-QUALITY-PAID": ("remedies",),
    "R-MISMATCH": ("tiers",),
    "R-DAMAGED": ("remedies", "max_days"),
    "R-MISSING": ("remedies", "max_days"),
    "R-LATE": (),
    "R-OTHER": ("remedies", "max_days", "late_basis"),
}

DEADLINE_STEPS = (
    "review",
    "refund_only_refund",
    "supply_materials",
    "ship_return",
    "inspect",
    "refund_after_receipt",
    "send_replacement",
    "repair_first_reply",
    "repair_finish",
)


class Policy(_Strict):
    version: str = Field(min_length=1)
    timezone: str
    currency: Literal["CNY"]
    reasons: dict[Reason, ReasonSpec]
    remedies: dict[Remedy, RemedySpec]
    materials: dict[MaterialCode, MaterialSpec]
    required_materials: dict[Reason, list[MaterialCode]]
    required_materials_by_flag: dict[Reason, dict[ItemFlag, list[MaterialCode]]] = {}
    sealed_confirmation_label: str
    sealed_confirmation_hint: str
    rules: dict[str, Rule]
    review: ReviewSpec
    money: MoneySpec
    deadlines: dict[str, DeadlineSpec]
    stats: StatsSpec

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:  # ZoneInfoNotFoundError or a malformed key
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _complete(self) -> "Policy":
        problems: list[str] = []
        for name, enum in (("reasons", Reason), ("remedies", Remedy), ("materials", MaterialCode),
                           ("required_materials", Reason)):
            missing = {e.value for e in enum} - {k.value for k in getattr(self, name)}
            if missing:
                problems.append(f"{name}: missing {sorted(missing)}")
        for rule_id, needed in RULE_REQUIREMENTS.items():
            rule = self.rules.get(rule_id)
            if rule is None:
                problems.append(f"rules: missing {rule_id}")
                continue
            if not rule.basis and not rule.tiers:
                problems.append(f"rules.{rule_id}: needs basis")
            for field in needed:
                if not getattr(rule, field):
                    problems.append(f"rules.{rule_id}: needs {field}")
        unknown = set(self.rules) - set(RULE_REQUIREMENTS)
        if unknown:
            problems.append(f"rules: unknown rule ids {sorted(unknown)}")
        mismatch = self.rules.get("R-MISMATCH")
        if mismatch and [t.max_days for t in mismatch.tiers] != sorted(t.max_days for t in mismatch.tiers):
            problems.append("rules.R-MISMATCH.tiers: max_days must increase")
        missing_steps = set(DEADLINE_STEPS) - set(self.deadlines)
        if missing_steps:
            problems.append(f"deadlines: missing {sorted(missing_steps)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Convenience accessors: the engine reads numbers only through these.
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def recent_window(self) -> timedelta:
        return timedelta(days=self.review.recent_cases_window_days)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file, raising PolicyFileError with a readable reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyFileError(f"policy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"policy file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyFileError(f"policy file {path} must hold a mapping at the top level")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise PolicyFileError(f"policy file {path} is invalid:\n" + "\n".join(lines)) from exc

