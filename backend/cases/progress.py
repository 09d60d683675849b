"""Case views for readers: the case body and the buyer's progress report, built from events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.cases import lifecycle
from backend.cases.deadlines import days_late
from backend.cases.lifecycle import STATUS_LABELS, Action
from backend.db.models import Case, Order
from backend.policy.config import Policy
from backend.policy.money import overdue_penalty
from backend.schemas.cases import (
    CaseEventOut,
    CaseMaterialOut,
    CaseOut,
    CaseSummary,
    DeadlineNow,
    NextStep,
    Penalty,
    Progress,
    Stage,
    TimelineEntry,
)
from backend.schemas.decisions import DecisionBody
from backend.vocab import CaseStatus, Party, Remedy

S = CaseStatus


def _fmt(moment: datetime | None, policy: Policy) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(policy.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def deadline_now(policy: Policy, case: Case, now: datetime) -> DeadlineNow | None:
    if case.due_step is None or case.due_at is None or case.due_party is None:
        return None
    return DeadlineNow(
        step=case.due_step,
        label=policy.deadlines[case.due_step].label,
        party=Party(case.due_party),
        due_at=case.due_at.astimezone(policy.tz),
        estimated=case.due_estimated,
        overdue=now > case.due_at,
    )


def case_out(policy: Policy, case: Case, now: datetime) -> CaseOut:
    return CaseOut(
        case_id=case.case_id,
        order_id=case.order_id,
        item_id=case.item_id,
        item_title=case.order_item.title,
        buyer_id=case.buyer_id,
        reason=case.reason,  # type: ignore[arg-type]
        remedy=case.remedy,  # type: ignore[arg-type]
        quantity=case.quantity,
        status=case.status,  # type: ignore[arg-type]
        status_label=STATUS_LABELS[S(case.status)],
        decision=DecisionBody.model_validate(case.decision),
        refund_amount=case.refund_amount,
        return_tracking=case.return_tracking,
        deadline=deadline_now(policy, case, now),
        materials=[
            CaseMaterialOut(
                code=m.code,
                label=policy.materials[m.code].label,  # type: ignore[index]
                upload_id=m.upload_id,
                kind=m.upload.kind if m.upload else None,
                sha256=m.upload.sha256 if m.upload else None,
                display_name=m.upload.display_name if m.upload else None,
                text=m.text,
                seal_intact=m.seal_intact,
                created_at=m.created_at,
            )
            for m in case.materials
        ],
        events=[
            CaseEventOut(
                seq=e.seq, at=e.at.astimezone(policy.tz), actor_role=e.actor_role,  # type: ignore[arg-type]
                actor_id=e.actor_id, action=e.action, label=_event_label(e.action), from_status=e.from_status,  # type: ignore[arg-type]
                to_status=e.to_status, reason=e.reason, data=e.data,  # type: ignore[arg-type]
            )
            for e in case.events
        ],
        policy_version=case.policy_version,
        created_at=case.created_at,
        updated_at=case.updated_at,
        agent_actions=[a.value for a in lifecycle.allowed_actions(case, Party.AGENT)],
    )


def case_summary(case: Case) -> CaseSummary:
    return CaseSummary(
        case_id=case.case_id, order_id=case.order_id, item_id=case.item_id, item_title=case.order_item.title,
        buyer_id=case.buyer_id, reason=case.reason, remedy=case.remedy, status=case.status,  # type: ignore[arg-type]
        status_label=STATUS_LABELS[S(case.status)], due_at=case.due_at, created_at=case.created_at,
        updated_at=case.updated_at,
    )


def _event_label(action: str) -> str:
    return "提交售后申请" if action == Action.FILE else lifecycle.transition(Action(action)).label


def _path(remedy: Remedy) -> list[tuple[str, str, tuple[CaseStatus, ...]]]:
    """The main stages a buyer sees for a remedy: (key, label, statuses that belong to it)."""
    start = [("filed", "提交申请", (S.AWAITING_MATERIALS,)), ("review", "审核", (S.PENDING_REVIEW, S.APPROVED, S.DISPUTED, S.REJECTED))]
    if remedy in (Remedy.RETURN_REFUND, Remedy.EXCHANGE, Remedy.REPAIR):
        start += [("return", "寄回商品", (S.AWAITING_RETURN, S.RETURNING)), ("inspect", "商家验收", (S.RECEIVED,))]
    final = {
        Remedy.RETURN_REFUND: ("refund", "退款", (S.REFUNDING, S.REFUNDED)),
        Remedy.REFUND_ONLY: ("refund", "退款", (S.REFUNDING, S.REFUNDED)),
        Remedy.PARTIAL_REFUND: ("refund", "补偿到账", (S.REFUNDING, S.REFUNDED)),
        Remedy.EXCHANGE: ("replace", "寄出新商品", (S.REPLACING,)),
        Remedy.RESEND: ("replace", "补发商品", (S.REPLACING,)),
        Remedy.REPAIR: ("repair", "维修", (S.REPAIRING,)),
    }[remedy]
    return start + [final, ("done", "完成", (S.COMPLETED,))]


def _stages(case: Case) -> list[Stage]:
    path = _path(Remedy(case.remedy))
    status = S(case.status)
    reached = {S(e.to_status) for e in case.events}
    current = next((i for i, (_, _, statuses) in enumerate(path) if status in statuses), None)
    if current is None:  # cancelled or closed: everything reached so far is done, the rest stays todo
        done = max((i for i, (_, _, st) in enumerate(path) if st and reached & set(st)), default=0)
        return [Stage(key=k, label=label, state="done" if i <= done else "todo") for i, (k, label, _) in enumerate(path)]
    return [
        Stage(key=k, label=label, state="done" if i < current or status == S.COMPLETED else "current" if i == current else "todo")
        for i, (k, label, _) in enumerate(path)
    ]


def _next_step(policy: Policy, case: Case, return_address: str) -> NextStep:
    status = S(case.status)
    due = _fmt(case.due_at, policy)
    remedy = Remedy(case.remedy)
    missing = "、".join(m["label"] for m in case.decision.get("missing_materials", []))
    last_reason = next((e.reason for e in reversed(case.events) if e.reason), None)
    payer = case.decision.get("return_shipping_paid_by")
    payer_text = {"seller": "运费由商家承担", "insurance": "运费由运费险赔付", "buyer": "运费由您承担"}.get(payer or "", "")
    texts: dict[CaseStatus, tuple[Party | None, str]] = {
        S.AWAITING_MATERIALS: (Party.BUYER, f"请在{due}前补充：{missing}"),
        S.PENDING_REVIEW: (Party.MERCHANT, f"客服正在审核，将在{due}前给您答复"),
        S.APPROVED: (Party.SYSTEM, "申请已通过，正在安排处理"),
        S.AWAITING_RETURN: (Party.BUYER, f"请在{due}前把商品寄回：{return_address}。{payer_text}，寄出后请告诉我退货快递单号"),
        S.RETURNING: (Party.MERCHANT, "退货正在寄回途中，商家收到后会尽快验收"),
        S.RECEIVED: (Party.MERCHANT, f"商家已收到退货，将在{due}前完成验收"),
        S.REFUNDING: (Party.MERCHANT if remedy == Remedy.RETURN_REFUND else Party.PLATFORM,
                      f"退款{case.refund_amount or ''}元将在{due}前原路退回".replace("退款元", "退款")),
        S.REFUNDED: (None, "退款已原路退回，请注意查收"),
        S.REPLACING: (Party.MERCHANT, f"商家将在{due}前寄出{'补发' if remedy == Remedy.RESEND else '更换'}的商品"),
        S.REPAIRING: (Party.MERCHANT, f"商家正在维修，将在{due}前修好并寄回"),
        S.COMPLETED: (None, "售后已完成，感谢您的耐心等待"),
        S.REJECTED: (Party.BUYER, f"申请未通过：{last_reason or '不符合售后条件'}。如有异议，可申请平台介入"),
        S.DISPUTED: (Party.PLATFORM, f"平台客服正在处理您的申诉，将在{due}前给出结果"),
        S.CANCELLED: (None, "您已撤销该售后申请"),
        S.CLOSED_TIMEOUT: (None, "因超时未处理，售后单已关闭；如仍需售后，可重新申请"),
    }
    party, text = texts[status]
    return NextStep(party=party, text=text)


def penalty_now(policy: Policy, case: Case, now: datetime) -> Penalty | None:
    late = days_late(policy, case.due_step, case.due_at, now)
    running = overdue_penalty(case.item_paid, policy.money.overdue_penalty_rate_per_day, late)
    total = case.penalty_settled + running
    if total <= 0:
        return None
    return Penalty(days_late=late, amount=total, rate_per_day=f"{policy.money.overdue_penalty_rate_per_day}")


def return_address_of(session: Session, case: Case, default: str) -> str:
    """The shop's own return address when the order feed gave one, else the platform default."""
    order = session.get(Order, case.order_id)
    return order.return_address if order and order.return_address else default


def progress(policy: Policy, case: Case, now: datetime, return_address: str) -> Progress:
    status = S(case.status)
    show_address = status in (S.AWAITING_RETURN, S.RETURNING)
    return Progress(
        case_id=case.case_id,
        status=status,
        status_label=STATUS_LABELS[status],
        stages=_stages(case),
        timeline=[
            TimelineEntry(at=e.at.astimezone(policy.tz), label=_event_label(e.action), status=e.to_status,  # type: ignore[arg-type]
                          status_label=STATUS_LABELS[S(e.to_status)], actor_role=e.actor_role, reason=e.reason)  # type: ignore[arg-type]
            for e in case.events
        ],
        next_step=_next_step(policy, case, return_address),
        deadline=deadline_now(policy, case, now),
        overdue_penalty=penalty_now(policy, case, now),
        missing_materials=case.decision.get("missing_materials", []) if status == S.AWAITING_MATERIALS else [],
        return_address=return_address if show_address else None,
        buyer_actions=[a.value for a in lifecycle.allowed_actions(case, Party.BUYER)],
    )
