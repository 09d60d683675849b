"""The eligibility engine: policy.md §3–§6 as one pure function of facts and a clock.

The service layer fetches facts and history; this module only decides. It never reads the
database or the wall clock, so each rule can be tested as a row of a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from backend.policy.calendar import days_between, local_date
from backend.policy.config import Policy, Rule
from backend.policy.deadlines import deadline_out
from backend.policy.facts import History, ItemFacts, OrderFacts, Request, Supplied
from backend.policy.money import Line, allocate_discount, refund_for_units, to_cents
from backend.schemas.decisions import (
    DeadlineOut,
    DecisionBody,
    MissingMaterial,
    Refund,
    RefundBreakdown,
    RuleCitation,
)
from backend.vocab import Decision, ItemFlag, MaterialCode, OrderStatus, Reason, Remedy, ShippingPayer


class RequestRejected(Exception):
    """The request cannot be decided at all (policy.md §5.1): an HTTP error, not a decision."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


MSG_ORDER_NOT_FOUND = "未找到该订单，请核对订单号"
MSG_ITEM_NOT_FOUND = "该订单中没有这件商品，请核对商品"
MSG_ORDER_CANCELLED = "该订单已取消，无需申请售后；如已付款，退款会按原路退回"
MSG_QUANTITY_TOO_LARGE = "申请数量须在 1 到购买数量（共{of_units}件）之间"

SELLER_FAULT = frozenset(
    {
        Reason.QUALITY,
        Reason.NOT_AS_DESCRIBED,
        Reason.WRONG_ITEM,
        Reason.DAMAGED_IN_TRANSIT,
        Reason.MISSING_ITEM,
        Reason.NOT_RECEIVED,
    }
)


@dataclass(frozen=True, slots=True)
class Match:
    """The §3 rule that decided, and what it allows."""

    rule_id: str
    remedies: tuple[Remedy, ...]
    basis: str
    review: bool = False
    review_remedies: tuple[Remedy, ...] = ()
    paid_repair: bool = False


def _format(text: str, **values: object) -> str:
    return text.format_map({k: v for k, v in values.items() if v is not None})


def _match(rule_id: str, rule: Rule, *, basis: str | None = None, remedies: tuple[Remedy, ...] | None = None,
           **values: object) -> Match:
    return Match(
        rule_id=rule_id,
        remedies=tuple(rule.remedies) if remedies is None else remedies,
        basis=_format(basis if basis is not None else rule.basis, **{"max_days": rule.max_days, **values}),
        review=rule.review,
        review_remedies=tuple(rule.review_remedies),
        paid_repair=rule_id == "R-QUALITY-PAID",
    )


def _transit(policy: Policy, order: OrderFacts, reason: Reason, at: datetime) -> Match:
    tz = policy.tz
    late_rule = policy.rule("R-TRANSIT-LATE")
    stale_days = late_rule.stale_logistics_days
    promised_passed = (
        order.promised_delivery_by is not None
        and local_date(at, tz) > local_date(order.promised_delivery_by, tz)
    )
    last_event = order.last_logistics_event_at or order.shipped_at
    stale = last_event is not None and stale_days is not None and days_between(last_event, at, tz) >= stale_days
    if reason == Reason.NOT_RECEIVED and (promised_passed or stale):
        return _match("R-TRANSIT-LATE", late_rule, stale_days=stale_days)
    expected = (
        f"{local_date(order.promised_delivery_by, tz):%m月%d日}".lstrip("0").replace("月0", "月")
        if order.promised_delivery_by
        else "近日"
    )
    return _match("R-TRANSIT-WAIT", policy.rule("R-TRANSIT-WAIT"), expected_date=expected)


def match_rule(policy: Policy, order: OrderFacts, item: ItemFacts, reason: Reason, at: datetime) -> tuple[Match, int | None]:
    """Walk policy.md §3's table in order; return the first rule that matches and d (or None)."""
    if order.status == OrderStatus.PAID:
        return _match("R-UNSHIPPED", policy.rule("R-UNSHIPPED")), None
    if order.status == OrderStatus.SHIPPED:
        return _transit(policy, order, reason, at), None
    assert order.delivered_at is not None  # order validation requires it for delivered orders
    d = days_between(order.delivered_at, at, policy.tz)
    flags = item.flags

    def late() -> Match:
        return _match("R-LATE", policy.rule("R-LATE"), d=d)

    if reason == Reason.NOT_RECEIVED:
        rule = policy.rule("R-SIGNED-NOT-RECEIVED")
        return (_match("R-SIGNED-NOT-RECEIVED", rule) if d <= (rule.max_days or 0) else late()), d

    perishable = policy.rule("R-PERISHABLE")
    if ItemFlag.PERISHABLE in flags and reason in perishable.reasons:
        if d <= (perishable.max_days or 0):
            return _match("R-PERISHABLE", perishable), d
        return _match("R-PERISHABLE", perishable, basis=perishable.late_basis, remedies=()), d

    if reason == Reason.NO_REASON:
        excluded = policy.rule("R-7DAY-EXCLUDED")
        if flags & set(excluded.flags):
            return _match("R-7DAY-EXCLUDED", excluded), d
        seven = policy.rule("R-7DAY")
        if d > (seven.max_days or 0):  # the late rule reads the window of R-7DAY: one number, one place
            return _match("R-7DAY-LATE", policy.rule("R-7DAY-LATE"), d=d, max_days=seven.max_days), d
        return _match("R-7DAY", seven), d

    if reason == Reason.QUALITY:
        for rule_id in ("R-QUALITY-7", "R-QUALITY-15"):
            rule = policy.rule(rule_id)
            if d <= (rule.max_days or 0):
                return _match(rule_id, rule), d
        if d <= item.warranty_days:
            return _match("R-QUALITY-WARRANTY", policy.rule("R-QUALITY-WARRANTY"), warranty_days=item.warranty_days), d
        return _match("R-QUALITY-PAID", policy.rule("R-QUALITY-PAID")), d

    if reason in (Reason.NOT_AS_DESCRIBED, Reason.WRONG_ITEM):
        rule = policy.rule("R-MISMATCH")
        for tier in rule.tiers:
            if d <= tier.max_days:
                return Match("R-MISMATCH", tuple(tier.remedies), _format(tier.basis, max_days=tier.max_days)), d
        return late(), d

    for reason_code, rule_id in ((Reason.DAMAGED_IN_TRANSIT, "R-DAMAGED"), (Reason.MISSING_ITEM, "R-MISSING")):
        if reason == reason_code:
            rule = policy.rule(rule_id)
            return (_match(rule_id, rule) if d <= (rule.max_days or 0) else late()), d

    other = policy.rule("R-OTHER")
    if d <= (other.max_days or 0):
        return _match("R-OTHER", other), d
    return _match("R-OTHER", other, basis=other.late_basis, remedies=()), d


def required_materials(policy: Policy, order: OrderFacts, item: ItemFacts, reason: Reason) -> list[MaterialCode]:
    """policy.md §4. Unshipped orders and parcels never received need no proof from the buyer."""
    if order.status != OrderStatus.DELIVERED or reason == Reason.NOT_RECEIVED:
        return []
    codes = list(policy.required_materials[reason])
    for flag, extra in policy.required_materials_by_flag.get(reason, {}).items():
        if flag in item.flags:
            codes += [c for c in extra if c not in codes]
    return codes


def _counts(policy: Policy, item: ItemFacts, supplied: tuple[Supplied, ...]) -> dict[MaterialCode, int]:
    counts: dict[MaterialCode, int] = {}
    for material in supplied:
        spec = policy.materials[material.code]
        if material.kind != spec.kind:
            continue
        if spec.kind == "text" and len((material.text or "").strip()) < spec.min_chars:
            continue
        if (
            material.code == MaterialCode.INTACT_CONFIRMATION
            and ItemFlag.SEALED_HYGIENE in item.flags
            and material.seal_intact is not True
        ):
            continue
        counts[material.code] = counts.get(material.code, 0) + 1
    return counts


def missing_materials(policy: Policy, order: OrderFacts, item: ItemFacts, reason: Reason,
                      supplied: tuple[Supplied, ...]) -> list[MissingMaterial]:
    counts = _counts(policy, item, supplied)
    missing: list[MissingMaterial] = []
    for code in required_materials(policy, order, item, reason):
        spec = policy.materials[code]
        have = counts.get(code, 0)
        if have >= spec.min_count:
            continue
        sealed = code == MaterialCode.INTACT_CONFIRMATION and ItemFlag.SEALED_HYGIENE in item.flags
        missing.append(
            MissingMaterial(
                code=code,
                label=policy.sealed_confirmation_label if sealed else spec.label,
                min_count=spec.min_count,
                have_count=have,
                hint=policy.sealed_confirmation_hint if sealed else spec.hint,
                kind=spec.kind,
            )
        )
    return missing


def refund_for(policy: Policy, order: OrderFacts, item: ItemFacts, reason: Reason, units: int) -> Refund:
    """policy.md §6: the paid amount of the units concerned, plus shipping when it all goes back."""
    lines = [Line(i.item_id, i.quantity, i.unit_price) for i in order.items]
    shares = allocate_discount(lines, order.discount_total)
    line_amount = item.unit_price * item.quantity
    item_paid = to_cents(line_amount - shares[item.item_id])
    items_refund = refund_for_units(item_paid, units, item.quantity)
    covers_order = len(order.items) == 1 and units == item.quantity
    not_buyer_fault = order.status == OrderStatus.PAID or reason in SELLER_FAULT
    shipping = to_cents(order.shipping_fee) if covers_order and not_buyer_fault else Decimal("0.00")
    return Refund(
        amount=items_refund + shipping,
        currency=policy.currency,
        breakdown=RefundBreakdown(
            line_amount=to_cents(line_amount),
            discount_share=shares[item.item_id],
            item_paid=item_paid,
            units=units,
            of_units=item.quantity,
            items_refund=items_refund,
            shipping_fee=shipping,
        ),
    )


def item_paid_amount(order: OrderFacts, item: ItemFacts) -> Decimal:
    lines = [Line(i.item_id, i.quantity, i.unit_price) for i in order.items]
    shares = allocate_discount(lines, order.discount_total)
    return to_cents(item.unit_price * item.quantity - shares[item.item_id])


def return_shipping_payer(policy: Policy, order: OrderFacts, reason: Reason, remedy: Remedy | None,
                          match: Match) -> ShippingPayer | None:
    if remedy is None or not policy.remedies[remedy].return_leg or reason == Reason.OTHER:
        return None
    if match.paid_repair:
        return ShippingPayer.BUYER
    if reason in SELLER_FAULT:
        return ShippingPayer.SELLER
    return ShippingPayer.INSURANCE if order.freight_insurance else ShippingPayer.BUYER


def _review_citations(policy: Policy, match: Match, remedy: Remedy | None, item_paid: Decimal,
                      history: History) -> list[RuleCitation]:
    spec = policy.review
    citations: list[RuleCitation] = []
    if match.review:
        citations.append(RuleCitation(id=match.rule_id, basis=match.basis))
    if remedy is not None and (remedy in spec.review_remedies or remedy in match.review_remedies):
        citations.append(RuleCitation(id="R-REVIEW-MANUAL-AMOUNT", basis=spec.basis.manual_amount))
    if item_paid >= spec.amount_threshold:
        citations.append(RuleCitation(id="R-REVIEW-AMOUNT", basis=spec.basis.amount))
    if history.buyer_recent_cases >= spec.recent_cases_threshold:
        citations.append(RuleCitation(id="R-REVIEW-FREQUENT", basis=spec.basis.frequent))
    if history.shared_evidence:
        citations.append(RuleCitation(id="R-REVIEW-SHARED-EVIDENCE", basis=spec.basis.shared_evidence))
    return citations


def _next_deadlines(policy: Policy, decision: Decision, remedy: Remedy | None, now: datetime,
                    materials_since: datetime) -> list[DeadlineOut]:
    if decision == Decision.NEEDS_MATERIALS:
        return [deadline_out(policy, "supply_materials", materials_since)]
    if decision == Decision.NEEDS_REVIEW:
        return [deadline_out(policy, "review", now)]
    if decision != Decision.ELIGIBLE or remedy is None:
        return []
    if policy.remedies[remedy].return_leg:
        return [deadline_out(policy, "ship_return", now)]
    if remedy == Remedy.REFUND_ONLY:
        return [deadline_out(policy, "refund_only_refund", now)]
    if remedy == Remedy.RESEND:
        return [deadline_out(policy, "send_replacement", now)]
    return []


def evaluate(policy: Policy, request: Request, history: History, *, decided_at: datetime, now: datetime,
             materials_since: datetime | None = None) -> DecisionBody:
    """Decide a request (policy.md §5 precedence).

    `decided_at` fixes d and the transit checks (a filed case keeps the moment it was filed);
    `now` starts the deadlines of what happens next; `materials_since` starts the buyer's
    7 days to supply proof (the filing time of a case).
    """
    order = request.order
    if order.status == OrderStatus.CANCELLED:
        raise RequestRejected(422, MSG_ORDER_CANCELLED)
    item = order.item(request.item_id)
    if item is None:
        raise RequestRejected(404, MSG_ITEM_NOT_FOUND)
    units = request.quantity if request.quantity is not None else item.quantity
    if not 0 < units <= item.quantity:
        raise RequestRejected(422, MSG_QUANTITY_TOO_LARGE.format(of_units=item.quantity))
    reason = Reason(request.reason)
    remedy = Remedy(request.remedy) if request.remedy is not None else None
    base = {"policy_version": policy.version, "remedy": remedy}

    if history.open_case is not None:
        return DecisionBody(
            decision=Decision.DUPLICATE,
            existing_case_id=history.open_case.case_id,
            existing_case_status=history.open_case.status,
            **base,
        )
    limit_rule = policy.rule("R-CASE-LIMIT")
    if history.cases_for_item >= (limit_rule.max_cases_per_item or 0):
        return DecisionBody(
            decision=Decision.INELIGIBLE,
            rules=[RuleCitation(id="R-CASE-LIMIT",
                                basis=_format(limit_rule.basis, max_cases=limit_rule.max_cases_per_item))],
            **base,
        )

    match, d = match_rule(policy, order, item, reason, decided_at)
    citation = RuleCitation(id=match.rule_id, basis=match.basis)
    allowed = list(match.remedies)
    if not allowed or (remedy is not None and remedy not in allowed):
        return DecisionBody(decision=Decision.INELIGIBLE, allowed_remedies=allowed, rules=[citation],
                            days_since_delivery=d, **base)

    missing = missing_materials(policy, order, item, reason, request.supplied)
    paid = item_paid_amount(order, item)
    reviews = _review_citations(policy, match, remedy, paid, history)
    if missing:
        decision = Decision.NEEDS_MATERIALS
    elif reviews:
        decision = Decision.NEEDS_REVIEW
    else:
        decision = Decision.ELIGIBLE

    refund = None
    manual_amount = remedy in match.review_remedies or remedy in policy.review.review_remedies
    if remedy in (Remedy.RETURN_REFUND, Remedy.REFUND_ONLY) and not manual_amount:
        refund = refund_for(policy, order, item, reason, units)
    rules = [citation] + [c for c in reviews if c.id != match.rule_id]
    return DecisionBody(
        decision=decision,
        allowed_remedies=allowed,
        missing_materials=missing,
        rules=rules,
        refund=refund,
        return_shipping_paid_by=return_shipping_payer(policy, order, reason, remedy, match),
        deadlines=_next_deadlines(policy, decision, remedy, now, materials_since or now),
        days_since_delivery=d,
        **base,
    )
