"""The case lifecycle of policy.md §8 as pure unit tests: in-memory cases, no database.

The expectations below are written from the spec, not read from `TRANSITIONS`, so a wrong row in
the table shows up as a failing (action, status) pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.cases import lifecycle
from backend.cases.lifecycle import STATUS_LABELS, TRANSITIONS, Action, TransitionRefused
from backend.db.models import Case, CaseEvent
from backend.vocab import CaseStatus, Party, Remedy

TZ = ZoneInfo("Asia/Shanghai")
FILED = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
AT = FILED + timedelta(days=1, hours=3)
ORDER_ID, ITEM_ID = "2026111812345678", "1"
OPEN_KEY = f"{ORDER_ID}:{ITEM_ID}"

S = CaseStatus
R = Remedy
ALL_STATUSES = tuple(CaseStatus)
# policy.md §5.2: every status but these is open.
CLOSED = {S.COMPLETED, S.CANCELLED, S.CLOSED_TIMEOUT, S.REJECTED}
# policy.md §8: "cancelled (by the buyer before the item is received)".
BEFORE_RECEIPT = (S.AWAITING_MATERIALS, S.PENDING_REVIEW, S.APPROVED, S.AWAITING_RETURN, S.RETURNING)
NEEDS_REASON = {Action.REJECT, Action.INSPECT_FAIL, Action.DISPUTE, Action.NOTE, Action.REFUND_FAILED}
SYSTEM_ONLY = (Action.MATERIALS_COMPLETE, Action.PROCEED, Action.TIMEOUT, Action.REMIND, Action.ESCALATE,
               Action.FLAG_OVERDUE)

AFTER_APPROVAL = {R.RETURN_REFUND: S.AWAITING_RETURN, R.EXCHANGE: S.AWAITING_RETURN, R.REPAIR: S.AWAITING_RETURN,
                  R.RESEND: S.REPLACING, R.REFUND_ONLY: S.REFUNDING, R.PARTIAL_REFUND: S.REFUNDING}
AFTER_INSPECTION = {R.RETURN_REFUND: S.REFUNDING, R.EXCHANGE: S.REPLACING, R.REPAIR: S.REPAIRING}
SAME = "same"  # the action is recorded but the status does not change


@dataclass(frozen=True)
class Decided:
    """The policy decision picks the target among these."""

    targets: tuple[CaseStatus, ...]


Outcome = CaseStatus | str | Decided | dict[Remedy, CaseStatus]

# policy.md §7 and §8, action by action: {source status: outcome}.
SPEC: dict[Action, dict[CaseStatus, Outcome]] = {
    Action.MATERIALS_COMPLETE: {S.AWAITING_MATERIALS: Decided((S.PENDING_REVIEW, S.APPROVED))},
    Action.CHANGE_REMEDY: {s: Decided((S.AWAITING_MATERIALS, S.PENDING_REVIEW, S.APPROVED))
                           for s in (S.AWAITING_MATERIALS, S.PENDING_REVIEW)},
    Action.APPROVE: {S.PENDING_REVIEW: S.APPROVED, S.DISPUTED: S.APPROVED},
    Action.PROCEED: {S.APPROVED: AFTER_APPROVAL},
    Action.REJECT: {S.PENDING_REVIEW: S.REJECTED, S.DISPUTED: S.REJECTED},
    Action.SHIP_RETURN: {S.AWAITING_RETURN: S.RETURNING},
    Action.RECEIVE: {S.AWAITING_RETURN: S.RECEIVED, S.RETURNING: S.RECEIVED},
    Action.INSPECT_PASS: {S.RECEIVED: AFTER_INSPECTION},
    Action.INSPECT_FAIL: {S.RECEIVED: S.REJECTED},
    Action.REFUND: {S.REFUNDING: S.REFUNDED},
    Action.REFUND_FAILED: {S.REFUNDING: SAME},
    Action.COMPLETE: {S.REFUNDED: S.COMPLETED},
    Action.SHIP_REPLACEMENT: {S.REPLACING: S.COMPLETED},
    Action.REPAIR_DONE: {S.REPAIRING: S.COMPLETED},
    Action.CANCEL: {s: S.CANCELLED for s in (*BEFORE_RECEIPT, S.DISPUTED)},
    Action.DISPUTE: {S.REJECTED: S.DISPUTED},
    Action.TIMEOUT: {S.AWAITING_MATERIALS: S.CLOSED_TIMEOUT, S.AWAITING_RETURN: S.CLOSED_TIMEOUT},
    Action.NOTE: {s: SAME for s in ALL_STATUSES},
    Action.REMIND: {S.AWAITING_MATERIALS: SAME},
    Action.ESCALATE: {s: SAME for s in ALL_STATUSES},
    Action.FLAG_OVERDUE: {s: SAME for s in ALL_STATUSES},
    Action.RATE: {S.COMPLETED: SAME},  # the satisfaction rating asked for when a case completes
}

# Who performs each action in the tests: a party the spec lets act.
ACTOR: dict[Action, Party] = {
    Action.MATERIALS_COMPLETE: Party.SYSTEM, Action.CHANGE_REMEDY: Party.BUYER, Action.APPROVE: Party.MERCHANT,
    Action.PROCEED: Party.SYSTEM, Action.REJECT: Party.MERCHANT, Action.SHIP_RETURN: Party.BUYER,
    Action.RECEIVE: Party.MERCHANT, Action.INSPECT_PASS: Party.MERCHANT, Action.INSPECT_FAIL: Party.MERCHANT,
    Action.REFUND: Party.MERCHANT, Action.REFUND_FAILED: Party.PLATFORM, Action.COMPLETE: Party.SYSTEM,
    Action.SHIP_REPLACEMENT: Party.MERCHANT, Action.REPAIR_DONE: Party.MERCHANT, Action.CANCEL: Party.BUYER,
    Action.DISPUTE: Party.BUYER, Action.TIMEOUT: Party.SYSTEM, Action.NOTE: Party.AGENT,
    Action.REMIND: Party.SYSTEM, Action.ESCALATE: Party.SYSTEM, Action.FLAG_OVERDUE: Party.SYSTEM,
    Action.RATE: Party.BUYER,
}
# A dispute is handed to a platform agent (policy.md §8), so the platform decides it.
DISPUTE_DECIDER = Party.PLATFORM

# A remedy that fits a status when the outcome does not depend on it.
REMEDY_IN = {S.REPLACING: R.EXCHANGE, S.REPAIRING: R.REPAIR}


def make_case(status: CaseStatus, remedy: Remedy | None = None, *, history: tuple[str, ...] = ()) -> Case:
    """A case as filing leaves it (one `file` event), then `history` as extra recorded actions."""
    remedy = remedy or REMEDY_IN.get(status, R.RETURN_REFUND)
    case = Case(
        case_id="AS261120000001", order_id=ORDER_ID, item_id=ITEM_ID, buyer_id="b_1001", reason="quality",
        remedy=remedy.value, quantity=1, status=status.value, open_key=None if status in CLOSED else OPEN_KEY,
        decision={}, policy_version="test", item_paid=Decimal("279.00"), refund_amount=None,
        penalty_settled=Decimal("0.00"), filed_at=FILED, created_at=FILED, updated_at=FILED,
        events=[], materials=[],
    )
    case.events.append(CaseEvent(seq=1, at=FILED, actor_role="buyer", actor_id="b_1001", action="file",
                                 from_status=None, to_status=status.value, reason=None, data={}))
    for n, action in enumerate(history, start=2):
        case.events.append(CaseEvent(seq=n, at=FILED, actor_role="system", actor_id=None, action=action,
                                     from_status=status.value, to_status=status.value, reason="x", data={}))
    return case


def snapshot(case: Case) -> tuple[object, ...]:
    events = tuple((e.seq, e.at, e.actor_role, e.actor_id, e.action, e.from_status, e.to_status, e.reason)
                   for e in case.events)
    return case.status, case.open_key, case.remedy, case.updated_at, events


def actor_for(action: Action, status: CaseStatus) -> Party:
    return DISPUTE_DECIDER if status == S.DISPUTED and action in (Action.APPROVE, Action.REJECT) else ACTOR[action]


def reason_for(action: Action) -> str | None:
    return "凭证不足，请补充清晰照片" if action in NEEDS_REASON else None


# ---------------------------------------------------------------- the grid


def _allowed_cells() -> list[object]:
    cells = []
    for action, sources in SPEC.items():
        for status, outcome in sources.items():
            if isinstance(outcome, Decided):
                cells += [pytest.param(action, status, None, t, id=f"{action}-{status}-decided-{t}")
                          for t in outcome.targets]
            elif isinstance(outcome, dict):
                cells += [pytest.param(action, status, remedy, target, id=f"{action}-{status}-{remedy}")
                          for remedy, target in outcome.items()]
            else:
                target = status if outcome == SAME else outcome
                cells.append(pytest.param(action, status, None, target, id=f"{action}-{status}"))
    return cells


def _refused_cells() -> list[object]:
    return [pytest.param(action, status, id=f"{action}-{status}")
            for action in SPEC for status in ALL_STATUSES if status not in SPEC[action]]


def test_the_table_covers_exactly_the_actions_of_the_spec() -> None:
    assert {t.action for t in TRANSITIONS} == set(SPEC)
    assert len(TRANSITIONS) == len(SPEC)  # one row per action


def test_the_spec_grid_has_every_action_status_pair_once() -> None:
    allowed = {(a, s) for a in SPEC for s in SPEC[a]}
    refused = {(a, s) for a in SPEC for s in ALL_STATUSES if s not in SPEC[a]}
    assert not allowed & refused
    assert len(allowed) + len(refused) == len(SPEC) * len(ALL_STATUSES)


@pytest.mark.parametrize(("action", "status", "remedy", "expected"), _allowed_cells())
def test_an_allowed_action_moves_the_case_and_appends_exactly_one_event(
        action: Action, status: CaseStatus, remedy: Remedy | None, expected: CaseStatus) -> None:
    case = make_case(status, remedy)
    before = list(case.events)
    before_fields = snapshot(case)[4]
    role = actor_for(action, status)
    reason = reason_for(action)
    decided = expected if isinstance(SPEC[action][status], Decided) else None

    event = lifecycle.apply(case, action, actor=role, actor_id="who-1", at=AT, reason=reason, data={"k": "v"},
                            decided=decided)

    assert case.status == expected.value
    assert case.open_key == (None if expected in CLOSED else OPEN_KEY)
    assert case.updated_at == AT
    assert len(case.events) == len(before) + 1
    assert case.events[-1] is event
    assert case.events[:-1] == before and snapshot(case)[4][:-1] == before_fields  # history untouched
    assert (event.seq, event.action, event.actor_role, event.actor_id, event.at) == (
        len(before) + 1, action.value, role.value, "who-1", AT)
    assert (event.from_status, event.to_status, event.reason) == (status.value, expected.value, reason)
    assert event.data == {"k": "v"}


@pytest.mark.parametrize(("action", "status"), _refused_cells())
def test_an_action_from_a_wrong_status_is_refused_naming_the_current_status(
        action: Action, status: CaseStatus) -> None:
    case = make_case(status)
    before = snapshot(case)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, action, actor=actor_for(action, status), actor_id="who-1", at=AT,
                        reason=reason_for(action), decided=S.APPROVED)
    assert refused.value.status_code == 409
    assert f"“{STATUS_LABELS[status]}”" in refused.value.message
    assert "售后单当前状态为" in refused.value.message
    assert snapshot(case) == before
    assert not lifecycle.can(case, action, actor_for(action, status))


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_every_status_has_a_chinese_label(status: CaseStatus) -> None:
    label = STATUS_LABELS[status]
    assert label and all("\u4e00" <= ch <= "\u9fff" or ch in "，/" for ch in label)


def test_status_labels_are_distinct() -> None:
    assert len(set(STATUS_LABELS.values())) == len(ALL_STATUSES)


# ---------------------------------------------------------------- decided outcomes


def test_a_decided_action_without_a_decision_among_its_targets_changes_nothing() -> None:
    case = make_case(S.AWAITING_MATERIALS)
    before = snapshot(case)
    with pytest.raises(ValueError):
        lifecycle.apply(case, Action.MATERIALS_COMPLETE, actor=Party.SYSTEM, actor_id=None, at=AT,
                        decided=S.REFUNDING)
    assert snapshot(case) == before


# ---------------------------------------------------------------- roles


def test_a_buyer_cannot_approve() -> None:
    case = make_case(S.PENDING_REVIEW)
    before = snapshot(case)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, Action.APPROVE, actor=Party.BUYER, actor_id="b_1001", at=AT)
    assert refused.value.status_code == 403
    assert "审核通过" in refused.value.message
    assert snapshot(case) == before


def test_a_merchant_cannot_dispute_on_the_buyers_behalf() -> None:
    case = make_case(S.REJECTED)
    before = snapshot(case)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, Action.DISPUTE, actor=Party.MERCHANT, actor_id="m", at=AT, reason="代买家申诉")
    assert refused.value.status_code == 403
    assert snapshot(case) == before


@pytest.mark.parametrize("role", [Party.MERCHANT, Party.BUYER])
def test_only_the_platform_side_decides_a_disputed_case(role: Party) -> None:
    """policy.md §8: a dispute is handed to a platform agent; the merchant who rejected cannot overrule it."""
    for action, reason in ((Action.APPROVE, None), (Action.REJECT, "维持原结论")):
        case = make_case(S.DISPUTED, history=("reject", "dispute"))
        before = snapshot(case)
        with pytest.raises(TransitionRefused) as refused:
            lifecycle.apply(case, action, actor=role, actor_id="x", at=AT, reason=reason)
        assert refused.value.status_code == 403
        assert snapshot(case) == before


@pytest.mark.parametrize("role", [Party.PLATFORM, Party.AGENT])
def test_a_platform_agent_decides_a_disputed_case(role: Party) -> None:
    case = make_case(S.DISPUTED, history=("reject", "dispute"))
    lifecycle.apply(case, Action.APPROVE, actor=role, actor_id="p-1", at=AT)
    assert case.status == S.APPROVED


@pytest.mark.parametrize("action", SYSTEM_ONLY)
@pytest.mark.parametrize("role", [Party.BUYER, Party.MERCHANT, Party.AGENT, Party.PLATFORM])
def test_system_only_actions_are_refused_for_everyone_else(action: Action, role: Party) -> None:
    status = next(iter(SPEC[action]))  # a status the action may run in
    case = make_case(status)
    before = snapshot(case)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, action, actor=role, actor_id="x", at=AT, decided=S.APPROVED)
    assert refused.value.status_code == 403
    assert snapshot(case) == before
    assert not lifecycle.can(case, action, role)
    assert lifecycle.can(case, action, Party.SYSTEM)


# ---------------------------------------------------------------- reasons


REASON_CASES = [
    (Action.REJECT, S.PENDING_REVIEW, Party.MERCHANT),
    (Action.INSPECT_FAIL, S.RECEIVED, Party.MERCHANT),
    (Action.DISPUTE, S.REJECTED, Party.BUYER),
    (Action.NOTE, S.RETURNING, Party.AGENT),
    (Action.REFUND_FAILED, S.REFUNDING, Party.PLATFORM),
]


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
@pytest.mark.parametrize(("action", "status", "role"), REASON_CASES, ids=[a for a, _, _ in REASON_CASES])
def test_actions_that_need_a_reason_are_refused_without_one(
        action: Action, status: CaseStatus, role: Party, reason: str | None) -> None:
    case = make_case(status)
    before = snapshot(case)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, action, actor=role, actor_id="x", at=AT, reason=reason)
    assert refused.value.status_code == 422
    assert "原因" in refused.value.message
    assert snapshot(case) == before


def test_the_table_asks_a_reason_for_exactly_the_spec_actions() -> None:
    assert {t.action for t in TRANSITIONS if t.needs_reason} == NEEDS_REASON


# ---------------------------------------------------------------- disputes


def test_a_second_dispute_is_refused_and_the_rejection_stands() -> None:
    case = make_case(S.PENDING_REVIEW)
    lifecycle.apply(case, Action.REJECT, actor=Party.MERCHANT, actor_id="m", at=AT, reason="照片无法看出问题")
    lifecycle.apply(case, Action.DISPUTE, actor=Party.BUYER, actor_id="b_1001", at=AT, reason="照片很清楚")
    assert (case.status, case.open_key) == (S.DISPUTED, OPEN_KEY)  # a disputed rejection is open again
    lifecycle.apply(case, Action.REJECT, actor=Party.PLATFORM, actor_id="p", at=AT, reason="平台维持原结论")
    assert (case.status, case.open_key) == (S.REJECTED, None)
    before = snapshot(case)
    assert not lifecycle.can(case, Action.DISPUTE, Party.BUYER)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, Action.DISPUTE, actor=Party.BUYER, actor_id="b_1001", at=AT, reason="还是不服")
    assert refused.value.status_code == 409
    assert "平台介入" in refused.value.message
    assert snapshot(case) == before


# ---------------------------------------------------------------- guards for buttons


def test_a_buyer_awaiting_the_return_may_exactly_ship_it_back_or_cancel() -> None:
    case = make_case(S.AWAITING_RETURN)
    assert set(lifecycle.allowed_actions(case, Party.BUYER)) == {Action.SHIP_RETURN, Action.CANCEL}
    assert len(lifecycle.allowed_actions(case, Party.BUYER)) == 2


def test_a_rejected_buyer_may_dispute_once_and_then_do_nothing() -> None:
    assert lifecycle.allowed_actions(make_case(S.REJECTED), Party.BUYER) == [Action.DISPUTE]
    assert lifecycle.allowed_actions(make_case(S.REJECTED, history=("dispute",)), Party.BUYER) == []


def test_a_merchant_holding_the_returned_item_may_inspect_it_or_add_a_note() -> None:
    assert set(lifecycle.allowed_actions(make_case(S.RECEIVED), Party.MERCHANT)) == {
        Action.INSPECT_PASS, Action.INSPECT_FAIL, Action.NOTE}


@pytest.mark.parametrize("status", [S.RECEIVED, S.REFUNDING, S.REPLACING, S.REPAIRING, S.REFUNDED])
def test_a_buyer_cannot_cancel_once_the_item_is_received_or_handled(status: CaseStatus) -> None:
    case = make_case(status)
    assert Action.CANCEL not in lifecycle.allowed_actions(case, Party.BUYER)
    with pytest.raises(TransitionRefused) as refused:
        lifecycle.apply(case, Action.CANCEL, actor=Party.BUYER, actor_id="b_1001", at=AT)
    assert refused.value.status_code == 409


def test_a_dispute_over_a_failed_inspection_cannot_be_cancelled_since_the_item_was_received() -> None:
    """policy.md §8: cancelled only before the item is received; here the merchant already holds it."""
    case = make_case(S.RECEIVED)
    lifecycle.apply(case, Action.INSPECT_FAIL, actor=Party.MERCHANT, actor_id="m", at=AT, reason="有使用痕迹")
    lifecycle.apply(case, Action.DISPUTE, actor=Party.BUYER, actor_id="b_1001", at=AT, reason="没有使用过")
    before = snapshot(case)
    with pytest.raises(TransitionRefused):
        lifecycle.apply(case, Action.CANCEL, actor=Party.BUYER, actor_id="b_1001", at=AT)
    assert snapshot(case) == before


def test_recording_the_filing_opens_the_case_and_numbers_events_from_one() -> None:
    case = make_case(S.AWAITING_MATERIALS)
    case.events.clear()
    case.open_key = None
    event = lifecycle.record(case, action=Action.FILE, actor=Party.BUYER, actor_id="b_1001", at=FILED,
                             from_status=None, to_status=S.AWAITING_MATERIALS)
    assert (event.seq, event.action, event.from_status, event.to_status) == (1, "file", None, "awaiting_materials")
    assert case.open_key == OPEN_KEY
