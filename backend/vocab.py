"""The fixed vocabulary shared by the backend, the action server and every API caller.

Codes are contract (api.md / policy.md §2, §8); Chinese labels live in the policy file so that
wording can change without a release. Import these enums rather than repeating strings.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    NO_REASON = "no_reason"
    QUALITY = "quality"
    NOT_AS_DESCRIBED = "not_as_described"
    WRONG_ITEM = "wrong_item"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    MISSING_ITEM = "missing_item"
    NOT_RECEIVED = "not_received"
    OTHER = "other"


class Remedy(StrEnum):
    RETURN_REFUND = "return_refund"
    REFUND_ONLY = "refund_only"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    RESEND = "resend"
    PARTIAL_REFUND = "partial_refund"


class MaterialCode(StrEnum):
    DESCRIPTION = "description"
    DEFECT_PHOTO = "defect_photo"
    DEFECT_VIDEO = "defect_video"
    ITEM_PHOTO = "item_photo"
    LABEL_PHOTO = "label_photo"
    PACKAGE_PHOTO = "package_photo"
    WAYBILL_PHOTO = "waybill_photo"
    CONTENTS_PHOTO = "contents_photo"
    INTACT_CONFIRMATION = "intact_confirmation"
    RETURN_TRACKING = "return_tracking"


class ItemFlag(StrEnum):
    CUSTOM_MADE = "custom_made"
    PERISHABLE = "perishable"
    DIGITAL_CONTENT = "digital_content"
    PERIODICAL = "periodical"
    NO_7DAY_RETURN = "no_7day_return"
    SEALED_HYGIENE = "sealed_hygiene"
    FUNCTIONAL = "functional"


class OrderStatus(StrEnum):
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    NEEDS_MATERIALS = "needs_materials"
    NEEDS_REVIEW = "needs_review"
    INELIGIBLE = "ineligible"
    DUPLICATE = "duplicate"


class CaseStatus(StrEnum):
    AWAITING_MATERIALS = "awaiting_materials"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    AWAITING_RETURN = "awaiting_return"
    RETURNING = "returning"
    RECEIVED = "received"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    REPLACING = "replacing"
    REPAIRING = "repairing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"
    CLOSED_TIMEOUT = "closed_timeout"


# A case in any other status blocks a new case for the same item (policy.md §5.2).
CLOSED_STATUSES: frozenset[CaseStatus] = frozenset(
    {CaseStatus.COMPLETED, CaseStatus.CANCELLED, CaseStatus.CLOSED_TIMEOUT, CaseStatus.REJECTED}
)


class ShippingPayer(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"
    INSURANCE = "insurance"


class Party(StrEnum):
    """Who acts on a case: whose turn a deadline is, and who made an event."""

    BUYER = "buyer"
    MERCHANT = "merchant"
    PLATFORM = "platform"
    AGENT = "agent"
    SYSTEM = "system"


# A return tracking number: a carrier prefix (SF, YT, JT, JDV…) and 10–15 digits, or 12–15 digits.
TRACKING_NUMBER_PATTERN = r"^(?:[A-Z]{2,4}[0-9]{10,15}|[0-9]{12,15})$"
