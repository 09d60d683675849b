"""Cases, their events and materials, transitions and the progress report (api.md "Case")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from backend.cases.lifecycle import Action
from backend.schemas.common import Money, Page, WireModel
from backend.schemas.decisions import DecisionBody, MaterialIn
from backend.vocab import CaseStatus, Party, Reason, Remedy


class CaseEventOut(BaseModel):
    seq: int
    at: datetime
    actor_role: Party
    actor_id: str | None
    action: str
    label: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    reason: str | None
    data: dict[str, Any]


class CaseMaterialOut(BaseModel):
    code: str
    label: str
    upload_id: str | None
    kind: str | None
    sha256: str | None
    display_name: str | None
    text: str | None
    seal_intact: bool | None
    created_at: datetime


class DeadlineNow(BaseModel):
    step: str
    label: str
    party: Party
    due_at: datetime
    estimated: bool
    overdue: bool


class CaseOut(BaseModel):
    case_id: str
    order_id: str
    item_id: str
    item_title: str
    buyer_id: str
    reason: Reason
    remedy: Remedy
    quantity: int
    status: CaseStatus
    status_label: str
    decision: DecisionBody
    refund_amount: Money | None
    return_tracking: str | None
    deadline: DeadlineNow | None
    materials: list[CaseMaterialOut]
    events: list[CaseEventOut]
    policy_version: str
    created_at: datetime
    updated_at: datetime
    # What a platform agent may do now (the console's buttons); the transition table is the judge.
    agent_actions: list[str] = []


class CaseSummary(BaseModel):
    case_id: str
    order_id: str
    item_id: str
    item_title: str
    buyer_id: str
    reason: Reason
    remedy: Remedy
    status: CaseStatus
    status_label: str
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CaseList(Page):
    cases: list[CaseSummary]


class MaterialsIn(WireModel):
    materials: list[MaterialIn] = Field(min_length=1, max_length=20)


class TransitionIn(WireModel):
    action: Action
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    refund_amount: Money | None = None
    remedy: Remedy | None = Field(None, description="For change_remedy: the new remedy.")
    rating: int | None = Field(None, ge=1, le=5, description="For rate: the buyer's 1–5 score (reason: a comment).")
    actor_role: Literal["merchant", "platform"] | None = Field(
        None, description="Service callers say whom they act as; agents and buyers are known by their login."
    )


class TimelineEntry(BaseModel):
    at: datetime
    label: str
    status: CaseStatus
    status_label: str
    actor_role: Party
    reason: str | None


class Stage(BaseModel):
    key: str
    label: str
    state: Literal["done", "current", "todo"]


class Penalty(BaseModel):
    days_late: int
    amount: Money
    currency: str = "CNY"
    rate_per_day: str


class NextStep(BaseModel):
    party: Party | None
    text: str


class Progress(BaseModel):
    case_id: str
    status: CaseStatus
    status_label: str
    stages: list[Stage]
    timeline: list[TimelineEntry]
    next_step: NextStep
    deadline: DeadlineNow | None
    overdue_penalty: Penalty | None
    missing_materials: list[dict[str, Any]]
    return_address: str | None
    buyer_actions: list[str]
