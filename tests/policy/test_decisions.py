"""policy.md §5: the decision's precedence, the review triggers and the requests that are refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from backend.policy.engine import RequestRejected
from backend.policy.facts import History, OpenCase
from backend.vocab import CLOSED_STATUSES, CaseStatus, Decision, MaterialCode, OrderStatus, Reason, Remedy

from tests.policy.conftest import complete_materials, local, spec_materials

R = Remedy


# --- 1. invalid --------------------------------------------------------------------------------------


def test_a_cancelled_order_is_refused_with_422_and_a_clear_message(make_order, make_request, decide) -> None:
    order = make_order(OrderStatus.CANCELLED)

    with pytest.raises(RequestRejected) as refused:
        decide(make_request(order, "no_reason", "return_refund"))

    assert refused.value.status_code == 422
    assert refused.value.message


def test_a_cancelled_order_is_refused_even_when_the_item_has_an_open_case(make_order, make_request, decide) -> None:
    order = make_order(OrderStatus.CANCELLED)

    with pytest.raises(RequestRejected) as refused:
        decide(make_request(order, "quality"), History(open_case=OpenCase("AS2611150123", CaseStatus.APPROVED)))

    assert refused.value.status_code == 422


def test_an_item_not_in_the_order_is_refused_with_404(make_order, make_request, decide) -> None:
    with pytest.raises(RequestRejected) as refused:
        decide(make_request(make_order(), "quality", item_id="99"))

    assert refused.value.status_code == 404


def test_a_quantity_above_the_purchased_quantity_is_refused_with_422(make_item, make_order, make_request,
                                                                     decide) -> None:
    order = make_order(items=[make_item(quantity=2)])

    with pytest.raises(RequestRejected) as refused:
        decide(make_request(order, "quality", quantity=3))

    assert refused.value.status_code == 422
    assert "2" in refused.value.message


def test_the_whole_purchased_quantity_may_be_requested(make_item, make_order, make_request, decide) -> None:
    order = make_order(items=[make_item(quantity=2)])

    body = decide(make_request(order, "quality", "return_refund", quantity=2, materials=complete_materials("quality")))

    assert body.decision == Decision.ELIGIBLE
    assert body.refund is not None and body.refund.breakdown.units == 2


# --- 2. duplicate ------------------------------------------------------------------------------------


def test_an_open_case_beats_everything_including_the_case_limit(policy, make_order, make_request, decide) -> None:
    order = make_order(delivered_days_ago=policy.rule("R-7DAY").max_days + 1)  # late, nothing supplied
    history = History(open_case=OpenCase("AS2611150123", CaseStatus.DISPUTED),
                      cases_for_item=policy.rule("R-CASE-LIMIT").max_cases_per_item,
                      buyer_recent_cases=policy.review.recent_cases_threshold, shared_evidence=True)

    body = decide(make_request(order, "no_reason", "return_refund"), history)

    assert body.decision == Decision.DUPLICATE
    assert body.existing_case_id == "AS2611150123"
    assert body.existing_case_status == CaseStatus.DISPUTED
    assert body.missing_materials == [] and body.refund is None and body.return_shipping_paid_by is None


def test_only_completed_cancelled_timed_out_and_rejected_cases_are_closed() -> None:
    # A disputed rejection is open again; every other status blocks a new case (policy.md §5.2).
    assert CLOSED_STATUSES == {CaseStatus.COMPLETED, CaseStatus.CANCELLED, CaseStatus.CLOSED_TIMEOUT,
                               CaseStatus.REJECTED}


# --- R-CASE-LIMIT ------------------------------------------------------------------------------------


def test_the_case_limit_makes_an_allowed_request_ineligible_citing_the_limit(policy, make_order, make_request,
                                                                             decide) -> None:
    limit = policy.rule("R-CASE-LIMIT").max_cases_per_item

    body = decide(make_request(make_order(), "quality", "exchange", materials=complete_materials("quality")),
                  History(cases_for_item=limit))

    assert body.decision == Decision.INELIGIBLE
    assert [c.id for c in body.rules] == ["R-CASE-LIMIT"]
    assert str(limit) in body.rules[0].basis
    assert body.allowed_remedies == [] and body.refund is None and body.missing_materials == []


# --- 3. ineligible -----------------------------------------------------------------------------------


def test_a_remedy_the_rule_does_not_allow_is_ineligible_with_the_allowed_ones_and_nothing_else(
        policy, make_order, make_request, decide) -> None:
    order = make_order(delivered_days_ago=policy.rule("R-QUALITY-7").max_days + 1)

    body = decide(make_request(order, "quality", "return_refund"))  # nothing supplied either

    assert body.decision == Decision.INELIGIBLE
    assert sorted(body.allowed_remedies) == sorted([R.EXCHANGE, R.REPAIR])
    assert [c.id for c in body.rules] == ["R-QUALITY-15"]
    assert body.missing_materials == []
    assert body.refund is None
    assert body.return_shipping_paid_by is None
    assert body.deadlines == []


@pytest.mark.parametrize("remedy", [R.REFUND_ONLY, R.REPAIR, R.RESEND, R.PARTIAL_REFUND])
def test_a_no_reason_request_for_a_remedy_outside_return_or_exchange_is_ineligible(
        remedy, make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), "no_reason", remedy, materials=complete_materials("no_reason")))

    assert body.decision == Decision.INELIGIBLE
    assert sorted(body.allowed_remedies) == sorted([R.RETURN_REFUND, R.EXCHANGE])


def test_a_request_past_every_window_is_ineligible_with_no_remedy_allowed(policy, make_order, make_request,
                                                                          decide) -> None:
    order = make_order(delivered_days_ago=policy.rule("R-DAMAGED").max_days + 1)

    body = decide(make_request(order, "damaged_in_transit", "resend"))

    assert body.decision == Decision.INELIGIBLE
    assert body.allowed_remedies == []
    assert [c.id for c in body.rules] == ["R-LATE"]
    assert body.missing_materials == [] and body.refund is None and body.return_shipping_paid_by is None


# --- 4. needs_materials ------------------------------------------------------------------------------


def test_all_missing_materials_are_listed_at_once_with_their_labels(policy, make_order, make_request,
                                                                    decide) -> None:
    body = decide(make_request(make_order(), "damaged_in_transit", "return_refund"))

    assert body.decision == Decision.NEEDS_MATERIALS
    assert sorted(m.code for m in body.missing_materials) == sorted(spec_materials("damaged_in_transit"))
    for missing in body.missing_materials:
        assert missing.label == policy.materials[missing.code].label
        assert missing.min_count == policy.materials[missing.code].min_count


def test_missing_materials_come_before_review(make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), "other", "return_refund"),
                  History(shared_evidence=True))

    assert body.decision == Decision.NEEDS_MATERIALS
    assert [m.code for m in body.missing_materials] == [MaterialCode.DESCRIPTION]


def test_the_buyer_gets_the_materials_deadline_counted_from_filing(policy, make_order, make_request, decide,
                                                                   clock) -> None:
    filed = clock - timedelta(days=2)

    body = decide(make_request(make_order(), "quality", "exchange"), materials_since=filed)

    days = policy.deadlines["supply_materials"].calendar_days
    assert [(d.step, d.due_at) for d in body.deadlines] == [
        ("supply_materials", local(filed.date() + timedelta(days=days), 23, 59, 59))]


# --- 5. needs_review ---------------------------------------------------------------------------------


def _delivered(days_key: str | None = None, plus: int = 0):
    return lambda policy: (policy.rule(days_key).max_days + plus) if days_key else 1


REVIEW_TRIGGERS = [
    pytest.param("other", "return_refund", _delivered(), {}, {}, id="reason other always goes to a person"),
    pytest.param("not_received", "resend", _delivered(), {}, {},
                 id="signed for but not received goes to a person"),
    pytest.param("quality", "repair", _delivered("R-QUALITY-15", +1), {}, {},
                 id="a paid repair needs a quote agreed first"),
    pytest.param("quality", "partial_refund", _delivered(), {}, {}, id="a partial refund amount is set by a person"),
    pytest.param("damaged_in_transit", "partial_refund", _delivered(), {}, {},
                 id="a partial refund for damage is set by a person"),
    pytest.param("missing_item", "refund_only", _delivered(), {}, {},
                 id="refund only for a missing part is set by a person"),
    pytest.param("quality", "exchange", _delivered(), {"at_threshold": True}, {},
                 id="an item paid at the amount threshold goes to a person"),
    pytest.param("quality", "exchange", _delivered(), {}, {"recent": 0},
                 id="a buyer at the recent cases threshold goes to a person"),
    pytest.param("quality", "exchange", _delivered(), {}, {"shared_evidence": True},
                 id="evidence already seen on another buyer's case goes to a person"),
]


def _history(policy, spec: dict) -> History:
    recent = policy.review.recent_cases_threshold + spec["recent"] if "recent" in spec else 0
    return History(buyer_recent_cases=recent, shared_evidence=spec.get("shared_evidence", False))


@pytest.mark.parametrize(("reason", "remedy", "d", "item", "history"), REVIEW_TRIGGERS)
def test_a_complete_allowed_request_goes_to_review_when(reason, remedy, d, item, history, policy, make_item,
                                                        make_order, make_request, decide) -> None:
    price = policy.review.amount_threshold if item.get("at_threshold") else Decimal("299.00")
    order = make_order(items=[make_item(unit_price=price)], delivered_days_ago=d(policy))

    body = decide(make_request(order, reason, remedy, materials=complete_materials(reason)),
                  _history(policy, history))

    assert body.decision == Decision.NEEDS_REVIEW
    assert remedy in body.allowed_remedies
    assert [d.step for d in body.deadlines] == ["review"]


@pytest.mark.parametrize(("history", "basis"), [
    pytest.param({"recent": 0}, "frequent", id="frequent buyer"),
    pytest.param({"shared_evidence": True}, "shared_evidence", id="shared evidence"),
])
def test_a_review_caused_by_the_history_cites_its_basis(history, basis, policy, make_order, make_request,
                                                        decide) -> None:
    body = decide(make_request(make_order(), "quality", "exchange", materials=complete_materials("quality")),
                  _history(policy, history))

    assert body.rules[0].id == "R-QUALITY-7"
    assert getattr(policy.review.basis, basis) in [c.basis for c in body.rules[1:]]


def test_a_review_caused_by_the_amount_cites_its_basis(policy, make_item, make_order, make_request, decide) -> None:
    order = make_order(items=[make_item(unit_price=policy.review.amount_threshold)])

    body = decide(make_request(order, "quality", "exchange", materials=complete_materials("quality")))

    assert policy.review.basis.amount in [c.basis for c in body.rules]


def test_an_item_paid_one_fen_below_the_threshold_is_approved_at_once(policy, make_item, make_order, make_request,
                                                                      decide) -> None:
    order = make_order(items=[make_item(unit_price=policy.review.amount_threshold - Decimal("0.01"))])

    body = decide(make_request(order, "quality", "exchange", materials=complete_materials("quality")))

    assert body.decision == Decision.ELIGIBLE


def test_the_amount_threshold_looks_at_the_paid_amount_after_the_discount(policy, make_item, make_order,
                                                                          make_request, decide) -> None:
    threshold = policy.review.amount_threshold
    order = make_order(items=[make_item(unit_price=threshold + Decimal("10.00"))], discount_total="10.01")

    body = decide(make_request(order, "quality", "exchange", materials=complete_materials("quality")))

    assert body.decision == Decision.ELIGIBLE


def test_the_amount_threshold_looks_at_the_whole_line_not_the_unit_price(policy, make_item, make_order,
                                                                         make_request, decide) -> None:
    half = (policy.review.amount_threshold / 2).quantize(Decimal("0.01"))
    order = make_order(items=[make_item(quantity=2, unit_price=half + Decimal("0.01"))])

    body = decide(make_request(order, "quality", "exchange", materials=complete_materials("quality")))

    assert body.decision == Decision.NEEDS_REVIEW


def test_a_buyer_one_case_below_the_recent_cases_threshold_is_approved_at_once(policy, make_order, make_request,
                                                                               decide) -> None:
    body = decide(make_request(make_order(), "quality", "exchange", materials=complete_materials("quality")),
                  _history(policy, {"recent": -1}))

    assert body.decision == Decision.ELIGIBLE


def test_resend_for_a_missing_part_is_approved_at_once(make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), "missing_item", "resend", materials=complete_materials("missing_item")))

    assert body.decision == Decision.ELIGIBLE


@pytest.mark.parametrize("remedy", [R.REFUND_ONLY, R.PARTIAL_REFUND])
def test_an_amount_set_by_a_person_is_not_computed(remedy, policy, make_item, make_order, make_request,
                                                   decide) -> None:
    reason = "missing_item" if remedy == R.REFUND_ONLY else "quality"

    body = decide(make_request(make_order(), reason, remedy, materials=complete_materials(reason)))

    assert body.decision == Decision.NEEDS_REVIEW
    assert body.refund is None


# --- 6. eligible -------------------------------------------------------------------------------------


def test_a_complete_allowed_request_is_approved_at_once_with_its_refund_payer_and_next_deadline(
        policy, make_order, make_request, decide, clock) -> None:
    body = decide(make_request(make_order(), "quality", "return_refund", materials=complete_materials("quality")))

    assert body.decision == Decision.ELIGIBLE
    assert body.remedy == R.RETURN_REFUND
    assert [c.id for c in body.rules] == ["R-QUALITY-7"]
    assert body.missing_materials == []
    assert body.refund is not None and body.refund.amount == Decimal("309.00")  # 299.00 + 10.00 shipping
    assert body.return_shipping_paid_by == "seller"
    assert [d.step for d in body.deadlines] == ["ship_return"]
    assert body.policy_version == policy.version


# --- no remedy named ---------------------------------------------------------------------------------


def test_without_a_remedy_an_allowed_request_is_decided_as_a_whole_with_the_remedies_to_choose(
        make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), "quality", materials=complete_materials("quality")))

    assert body.decision == Decision.ELIGIBLE
    assert body.remedy is None
    assert sorted(body.allowed_remedies) == sorted([R.RETURN_REFUND, R.EXCHANGE, R.REPAIR, R.PARTIAL_REFUND])
    assert body.refund is None
    assert body.return_shipping_paid_by is None


def test_without_a_remedy_missing_materials_are_still_listed(make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), "wrong_item"))

    assert body.decision == Decision.NEEDS_MATERIALS
    assert sorted(m.code for m in body.missing_materials) == sorted(spec_materials("wrong_item"))


def test_without_a_remedy_a_request_no_rule_allows_is_ineligible(policy, make_order, make_request, decide) -> None:
    order = make_order(delivered_days_ago=policy.rule("R-7DAY").max_days + 1)

    body = decide(make_request(order, "no_reason"))

    assert body.decision == Decision.INELIGIBLE
    assert body.allowed_remedies == []
    assert body.missing_materials == []


def test_without_a_remedy_a_review_rule_still_goes_to_review(make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(), Reason.OTHER, materials=complete_materials("other")))

    assert body.decision == Decision.NEEDS_REVIEW

