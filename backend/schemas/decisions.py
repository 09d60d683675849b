"""The eligibility request and the decision body (api.md), also embedded in every case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from backend.schemas.common import UPLOAD_ID_PATTERN, BuyerId, ItemId, Money, OrderId, WireModel
from backend.vocab import CaseStatus, Decision, MaterialCode, Party, Reason, Remedy, ShippingPayer

UploadId = Annotated[str, StringConstraints(pattern=UPLOAD_ID_PATTERN)]


class MaterialIn(WireModel):
    code: MaterialCode
    upload_id: UploadId | None = None
    text: Annotated[str, StringConstraints(max_length=2000)] | None = None
    seal_intact: bool | None = Field(
        None, description="For intact_confirmation of sealed goods: the seal is unbroken."
    )


class EligibilityRequest(WireModel):
    order_id: OrderId
    item_id: ItemId
    buyer_id: BuyerId
    reason: Reason
    remedy: Remedy | None = None
    quantity: int | None = Field(None, ge=1, le=10000)
    materials: list[MaterialIn] = Field(default_factory=list, max_length=50)


class RuleCitation(BaseModel):
    id: str
    basis: str


class MissingMaterial(BaseModel):
    code: MaterialCode
    label: str
    min_count: int
    have_count: int
    hint: str
    # How it is supplied (a file upload slot, typed text, a yes): decisions stored before this field have none.
    kind: Literal["text", "image", "video", "confirmation", "tracking"] | None = None


class RefundBreakdown(BaseModel):
    line_amount: Money
    discount_share: Money
    item_paid: Money
    units: int
    of_units: int
    items_refund: Money
    shipping_fee: Money


class Refund(BaseModel):
    amount: Money
    currency: str = "CNY"
    breakdown: RefundBreakdown


class DeadlineOut(BaseModel):
    step: str
    label: str
    party: Party
    due_at: datetime
    estimated: bool


class DecisionBody(BaseModel):
    decision: Decision
    remedy: Remedy | None = None
    allowed_remedies: list[Remedy] = []
    missing_materials: list[MissingMaterial] = []
    rules: list[RuleCitation] = []
    refund: Refund | None = None
    return_shipping_paid_by: ShippingPayer | None = None
    deadlines: list[DeadlineOut] = []
    existing_case_id: str | None = None
    existing_case_status: CaseStatus | None = None
    days_since_delivery: int | None = None
    policy_version: str
