"""The case lifecycle of policy.md §8 as one transition table.

Only `apply()` changes a case's status, and each call appends exactly one immutable event
(actor, time, from, to, reason). Guards (`allowed_actions`, `can`) read the same table, so what
the API offers and what it accepts cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from backend.db.models import Case, CaseEvent, StatusOutbox
from backend.vocab import CLOSED_STATUSES, CaseStatus, Party, Remedy

S = CaseStatus


class Action(StrEnum):
    FILE = "file"
    MATERIALS_COMPLETE = "materials_complete"
    CHANGE_REMEDY = "change_remedy"
    APPROVE = "approve"
    PROCEED = "proceed"
    REJECT = "reject"
    SHIP_RETURN = "ship_return"
    RECEIVE = "receive"
    INSPECT_PASS = "inspect_pass"
    INSPECT_FAIL = "inspect_fail"
    REFUND = "refund"
    REFUND_FAILED = "refund_failed"
    SHIP_REPLACEMENT = "ship_replacement"
    REPAIR_DONE = "repair_done"
    COMPLETE = "complete"
    CANCEL = "cancel"
    DISPUTE = "dispute"
    TIMEOUT = "timeout"
    NOTE = "note"
    REMIND = "remind"
    ESCALATE = "escalate"
    FLAG_OVERDUE = "flag_overdue"
    RATE = "rate"


STAFF = frozenset({Party.MERCHANT, Party.AGENT, Party.PLATFORM})
PLATFORM_SIDE = frozenset({Party.AGENT, Party.PLATFORM})
SYSTEM = frozenset({Party.SYSTEM})
BUYER = frozenset({Party.BUYER})

OPEN_BEFORE_RECEIPT = (S.AWAITING_MATERIALS, S.PENDING_REVIEW, S.APPROVED, S.AWAITING_RETURN, S.RETURNING)


def was_received(case: Case) -> bool:
    return any(e.to_status == S.RECEIVED.value for e in case.events)


def _after_inspection(case: Case) -> CaseStatus:
    remedy = Remedy(case.remedy)
    return {Remedy.RETURN_REFUND: S.REFUNDING, Remedy.EXCHANGE: S.REPLACING, Remedy.REPAIR: S.REPAIRING}[remedy]


def _after_approval(case: Case) -> CaseStatus:
    remedy = Remedy(case.remedy)
    if remedy in (Remedy.RETURN_REFUND, Remedy.EXCHANGE, Remedy.REPAIR):
        # A dispute won after a failed inspection: the merchant already holds the item.
        return _after_inspection(case) if was_received(case) else S.AWAITING_RETURN
    if remedy == Remedy.RESEND:
        return S.REPLACING
    return S.REFUNDING  # refund_only, partial_refund


Target = CaseStatus | Callable[[Case], CaseStatus] | None  # None: the status does not change


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    sources: tuple[CaseStatus, ...]
    target: Target
    roles: frozenset[Party]
    label: str  # Chinese, for timelines and consoles
    needs_reason: bool = False
    # For actions whose outcome the policy decision picks (target None): the statuses it may pick.
    decided_targets: tuple[CaseStatus, ...] = ()
    # Narrower roles for some source statuses (a dispute is decided by the platform, not the merchant).
    source_roles: tuple[tuple[CaseStatus, frozenset[Party]], ...] = ()

    def roles_from(self, status: CaseStatus) -> frozenset[Party]:
        return next((roles for source, roles in self.source_roles if source == status), self.roles)


TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.MATERIALS_COMPLETE, (S.AWAITING_MATERIALS,), None, SYSTEM, "凭证已齐全",
               decided_targets=(S.PENDING_REVIEW, S.APPROVED)),
    Transition(Action.CHANGE_REMEDY, (S.AWAITING_MATERIALS, S.PENDING_REVIEW), None, BUYER | STAFF, "更改处理方式",
               decided_targets=(S.AWAITING_MATERIALS, S.PENDING_REVIEW, S.APPROVED)),
    Transition(Action.APPROVE, (S.PENDING_REVIEW, S.DISPUTED), S.APPROVED, STAFF, "审核通过",
               source_roles=((S.DISPUTED, PLATFORM_SIDE),)),
    Transition(Action.PROCEED, (S.APPROVED,), _after_approval, SYSTEM, "进入处理"),
    Transition(Action.REJECT, (S.PENDING_REVIEW, S.DISPUTED), S.REJECTED, STAFF, "审核未通过", needs_reason=True,
               source_roles=((S.DISPUTED, PLATFORM_SIDE),)),
    Transition(Action.SHIP_RETURN, (S.AWAITING_RETURN,), S.RETURNING, BUYER | STAFF, "买家已寄回"),
    Transition(Action.RECEIVE, (S.AWAITING_RETURN, S.RETURNING), S.RECEIVED, STAFF, "商家已收到退货"),
    Transition(Action.INSPECT_PASS, (S.RECEIVED,), _after_inspection, STAFF, "验收通过"),
    Transition(Action.INSPECT_FAIL, (S.RECEIVED,), S.REJECTED, STAFF, "验收未通过", needs_reason=True),
    Transition(Action.REFUND, (S.REFUNDING,), S.REFUNDED, STAFF, "退款已发放"),
    Transition(Action.REFUND_FAILED, (S.REFUNDING,), None, STAFF | SYSTEM, "退款失败，已转人工处理", needs_reason=True),
    Transition(Action.COMPLETE, (S.REFUNDED,), S.COMPLETED, BUYER | STAFF | SYSTEM, "售后完成"),
    Transition(Action.SHIP_REPLACEMENT, (S.REPLACING,), S.COMPLETED, STAFF, "商品已寄出"),
    Transition(Action.REPAIR_DONE, (S.REPAIRING,), S.COMPLETED, STAFF, "维修完成并寄回"),
    Transition(Action.CANCEL, OPEN_BEFORE_RECEIPT + (S.DISPUTED,), S.CANCELLED, BUYER | STAFF, "已撤销申请"),
    Transition(Action.DISPUTE, (S.REJECTED,), S.DISPUTED, BUYER, "买家申请平台介入", needs_reason=True),
    Transition(Action.TIMEOUT, (S.AWAITING_MATERIALS, S.AWAITING_RETURN), S.CLOSED_TIMEOUT, SYSTEM, "超时关闭"),
    Transition(Action.NOTE, tuple(S), None, STAFF, "备注", needs_reason=True),
    Transition(Action.RATE, (S.COMPLETED,), None, BUYER, "买家评价服务"),
    Transition(Action.REMIND, (S.AWAITING_MATERIALS,), None, SYSTEM, "已提醒补充凭证"),
    Transition(Action.ESCALATE, tuple(S), None, SYSTEM, "已升级至平台客服"),
    Transition(Action.FLAG_OVERDUE, tuple(S), None, SYSTEM, "商家处理超时"),
)
_BY_ACTION: dict[Action, Transition] = {t.action: t for t in TRANSITIONS}

STATUS_LABELS: dict[CaseStatus, str] = {
    S.AWAITING_MATERIALS: "待补充凭证",
    S.PENDING_REVIEW: "审核中",
    S.APPROVED: "审核通过",
    S.AWAITING_RETURN: "待寄回商品",
    S.RETURNING: "退货寄回中",
    S.RECEIVED: "商家已收货，待验收",
    S.REFUNDING: "退款处理中",
    S.REFUNDED: "已退款",
    S.REPLACING: "换货/补发处理中",
    S.REPAIRING: "维修中",
    S.COMPLETED: "已完成",
    S.REJECTED: "未通过",
    S.DISPUTED: "平台介入中",
    S.CANCELLED: "已撤销",
    S.CLOSED_TIMEOUT: "超时关闭",
}


class TransitionRefused(Exception):
    """An action that the table does not allow; the message is for the person who tried it."""

    def __init__(self, message: str, status_code: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def transition(action: Action) -> Transition:
    return _BY_ACTION[action]


def resolve_target(rule: Transition, case: Case) -> CaseStatus:
    if rule.target is None:
        return CaseStatus(case.status)
    if isinstance(rule.target, CaseStatus):
        return rule.target
    return rule.target(case)


def check(case: Case, action: Action, role: Party, reason: str | None = None) -> Transition:
    """Raise TransitionRefused with a clear Chinese message unless `role` may do `action` now."""
    rule = _BY_ACTION.get(action)
    if rule is None:
        raise TransitionRefused("该操作由系统执行，不能直接调用", status_code=422)
    status = CaseStatus(case.status)
    if role not in rule.roles:
        raise TransitionRefused(f"您无权执行“{rule.label}”操作", status_code=403)
    if status not in rule.sources:
        raise TransitionRefused(f"售后单当前状态为“{STATUS_LABELS[status]}”，不能执行“{rule.label}”操作")
    if role not in rule.roles_from(status):
        raise TransitionRefused(f"“{STATUS_LABELS[status]}”的售后单由平台客服处理，您无权执行“{rule.label}”操作",
                                status_code=403)
    if action == Action.CANCEL and was_received(case):
        raise TransitionRefused("商家已收到退回的商品，不能再撤销申请")
    if action == Action.DISPUTE and any(e.action == Action.DISPUTE for e in case.events):
        raise TransitionRefused("该售后单已申请过平台介入，结果为最终处理意见")
    if rule.needs_reason and not (reason and reason.strip()):
        raise TransitionRefused(f"“{rule.label}”需要填写原因", status_code=422)
    return rule


def can(case: Case, action: Action, role: Party) -> bool:
    try:
        check(case, action, role, reason="-")
    except TransitionRefused:
        return False
    return True


def allowed_actions(case: Case, role: Party) -> list[Action]:
    """Actions `role` may take now (for consoles and the bot's buttons)."""
    skip = {Action.MATERIALS_COMPLETE, Action.PROCEED, Action.REMIND, Action.ESCALATE, Action.FLAG_OVERDUE}
    return [t.action for t in TRANSITIONS if t.action not in skip and can(case, t.action, role)]


def record(case: Case, *, action: Action | str, actor: Party, actor_id: str | None, at: datetime,
           from_status: CaseStatus | None, to_status: CaseStatus, reason: str | None = None,
           data: dict[str, Any] | None = None) -> CaseEvent:
    """Append one event and project the status onto the case row."""
    event = CaseEvent(
        seq=len(case.events) + 1,
        at=at,
        actor_role=actor.value,
        actor_id=actor_id,
        action=str(action),
        from_status=from_status.value if from_status else None,
        to_status=to_status.value,
        reason=reason,
        data=data or {},
    )
    if from_status is not None and from_status != to_status:
        event.outbox = StatusOutbox(created_at=at)  # the buyer hears of it (backend.gateway.push)
    case.events.append(event)
    case.status = to_status.value
    case.open_key = None if to_status in CLOSED_STATUSES else f"{case.order_id}:{case.item_id}"
    case.updated_at = at
    return event


def apply(case: Case, action: Action, *, actor: Party, actor_id: str | None, at: datetime,
          reason: str | None = None, data: dict[str, Any] | None = None,
          decided: CaseStatus | None = None) -> CaseEvent:
    """Check and perform `action`; `decided` is the outcome for decision-driven actions."""
    rule = check(case, action, actor, reason)
    before = CaseStatus(case.status)
    if rule.decided_targets:
        if decided not in rule.decided_targets:
            raise ValueError(f"{action} needs a decided status among {rule.decided_targets}")
        after = decided
    else:
        after = resolve_target(rule, case)
    return record(case, action=action, actor=actor, actor_id=actor_id, at=at, from_status=before,
                  to_status=after, reason=reason, data=data)
