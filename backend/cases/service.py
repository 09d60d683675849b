"""Filing cases, adding materials and moving cases through their lifecycle.

Every public function runs inside the caller's unit of work and either completes or raises
before anything is flushed that could be left half-written: the API commits only on success.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from backend.cases import lifecycle
from backend.cases.actor import Actor
from backend.cases.deadlines import days_late, project
from backend.cases.lifecycle import Action, TransitionRefused
from backend.db.models import Case, CaseMaterial, IdempotencyKey, Order, Upload
from backend.errors import MSG_CASE_NOT_FOUND, MSG_ORDER_NOT_FOUND, MSG_UPLOAD_NOT_FOUND, ServiceError
from backend.orders.facts import order_facts
from backend.policy.config import Policy
from backend.policy.engine import RequestRejected, evaluate, item_paid_amount
from backend.policy.facts import History, OpenCase, Request, Supplied
from backend.policy.money import overdue_penalty, refund_for_units
from backend.schemas.decisions import DecisionBody, EligibilityRequest, MaterialIn
from backend.vocab import (
    CLOSED_STATUSES,
    TRACKING_NUMBER_PATTERN,
    CaseStatus,
    Decision,
    MaterialCode,
    Party,
    Remedy,
)

S = CaseStatus
MSG_RATING_NEEDED = "请给出1到5分的评分"
MSG_ALREADY_RATED = "这个售后单已经评价过了，感谢您的反馈"
MSG_RATING_NOT_HERE = "只有评价服务时可以填写评分"
MSG_NO_REMEDY = "请选择处理方式（退货退款、换货、维修等）后再提交"
MSG_IDEMPOTENCY_REUSED = "该请求编号（Idempotency-Key）已用于另一笔不同的申请"
MSG_MATERIALS_CLOSED = "售后单当前状态为“{status}”，不能再补充凭证"
MSG_TRACKING_TOO_EARLY = "审核通过、需要寄回商品时才能填写退货快递单号"
MSG_TRACKING_FORMAT = "退货快递单号格式不正确，例如 SF1234567890123"
MSG_TRACKING_IN_APPLICATION = "退货快递单号请在审核通过后再填写"
MSG_UPLOAD_KIND = "“{label}”需要{kind}文件"
MSG_TEXT_NEEDED = "“{label}”需要填写文字内容"
MSG_OPEN_CASE_EXISTS = "该商品已有进行中的售后单"
MSG_AMOUNT_NEEDED = "该处理方式需要填写退款/补偿金额"
MSG_AMOUNT_TOO_LARGE = "金额不能超过该商品实付金额 {cap} 元"
MSG_AMOUNT_NOT_ALLOWED = "该处理方式的退款金额由政策计算，不能手工填写"
KIND_LABELS = {"image": "图片", "video": "视频"}
TRACKING_RE = re.compile(TRACKING_NUMBER_PATTERN)


# ---------------------------------------------------------------- lookups


def get_order(session: Session, order_id: str, actor: Actor, buyer_id: str | None = None) -> Order:
    """The order, or 404 when it is unknown or belongs to someone else (never reveal which)."""
    order = session.get(Order, order_id, options=[joinedload(Order.items)])
    owner = actor.buyer_scope or buyer_id
    if order is None or (owner is not None and order.buyer_id != owner):
        raise ServiceError(404, MSG_ORDER_NOT_FOUND)
    return order


def get_case(session: Session, case_id: str, actor: Actor, *, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.case_id == case_id).options(
        selectinload(Case.events), selectinload(Case.materials).selectinload(CaseMaterial.upload)
    )
    if for_update and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Case)
    case = session.scalars(stmt).one_or_none()
    if case is None or (actor.buyer_scope is not None and case.buyer_id != actor.buyer_scope):
        raise ServiceError(404, MSG_CASE_NOT_FOUND)
    return case


# ---------------------------------------------------------------- materials


@dataclass(frozen=True, slots=True)
class Resolved:
    supplied: tuple[Supplied, ...]
    uploads: tuple[Upload, ...]


def resolve_materials(session: Session, policy: Policy, materials: list[MaterialIn], buyer_id: str) -> Resolved:
    """Check every supplied material against its upload and kind; refuse the whole batch on any error."""
    ids = {m.upload_id for m in materials if m.upload_id}
    uploads = {u.upload_id: u for u in session.scalars(select(Upload).where(Upload.upload_id.in_(ids)))} if ids else {}
    supplied: list[Supplied] = []
    for material in materials:
        spec = policy.materials[material.code]
        if spec.kind in ("image", "video"):
            upload = uploads.get(material.upload_id or "")
            if upload is None or (upload.buyer_id is not None and upload.buyer_id != buyer_id):
                raise ServiceError(422, MSG_UPLOAD_NOT_FOUND, {"code": material.code})
            if upload.kind != spec.kind:
                raise ServiceError(422, MSG_UPLOAD_KIND.format(label=spec.label, kind=KIND_LABELS[spec.kind]))
            supplied.append(Supplied(material.code, upload.kind))
        elif spec.kind == "text":
            if not material.text:
                raise ServiceError(422, MSG_TEXT_NEEDED.format(label=spec.label))
            supplied.append(Supplied(material.code, "text", text=material.text))
        elif spec.kind == "confirmation":
            supplied.append(Supplied(material.code, "confirmation", text=material.text, seal_intact=material.seal_intact))
        else:  # tracking: only after approval, through add_materials
            supplied.append(Supplied(material.code, "tracking", text=material.text))
    return Resolved(tuple(supplied), tuple(uploads.values()))


def _stored_supplied(case: Case) -> tuple[Supplied, ...]:
    out: list[Supplied] = []
    for m in case.materials:
        code = MaterialCode(m.code)
        if m.upload is not None:
            out.append(Supplied(code, m.upload.kind))
        elif code == MaterialCode.DESCRIPTION:
            out.append(Supplied(code, "text", text=m.text))
        elif code == MaterialCode.INTACT_CONFIRMATION:
            out.append(Supplied(code, "confirmation", text=m.text, seal_intact=m.seal_intact))
    return tuple(out)


# ---------------------------------------------------------------- history and decisions


def history_for(session: Session, policy: Policy, *, order_id: str, item_id: str, buyer_id: str,
                now: datetime, hashes: set[str], exclude_case_id: str | None = None) -> History:
    item_cases = select(Case.case_id, Case.status).where(Case.order_id == order_id, Case.item_id == item_id)
    if exclude_case_id:
        item_cases = item_cases.where(Case.case_id != exclude_case_id)
    rows = session.execute(item_cases).all()
    open_case = next(
        (OpenCase(r.case_id, CaseStatus(r.status)) for r in rows if CaseStatus(r.status) not in CLOSED_STATUSES),
        None,
    )
    recent = select(func.count()).select_from(Case).where(
        Case.buyer_id == buyer_id, Case.created_at >= now - policy.recent_window()
    )
    if exclude_case_id:
        recent = recent.where(Case.case_id != exclude_case_id)
    shared = False
    if hashes:
        shared = session.scalar(
            select(func.count())
            .select_from(CaseMaterial)
            .join(Upload, CaseMaterial.upload_id == Upload.upload_id)
            .join(Case, CaseMaterial.case_id == Case.case_id)
            .where(Upload.sha256.in_(hashes), Case.buyer_id != buyer_id)
        ) > 0
    return History(
        open_case=open_case,
        cases_for_item=len(rows),
        buyer_recent_cases=session.scalar(recent) or 0,
        shared_evidence=shared,
    )


def _engine(policy: Policy, request: Request, history: History, **clock: datetime | None) -> DecisionBody:
    try:
        return evaluate(policy, request, history, **clock)  # type: ignore[arg-type]
    except RequestRejected as exc:
        raise ServiceError(exc.status_code, exc.message) from exc


def decide(session: Session, policy: Policy, body: EligibilityRequest, actor: Actor, now: datetime) -> DecisionBody:
    """POST /eligibility: a decision without writing anything."""
    order = get_order(session, body.order_id, actor, body.buyer_id)
    if any(m.code == MaterialCode.RETURN_TRACKING for m in body.materials):
        raise ServiceError(422, MSG_TRACKING_IN_APPLICATION)
    resolved = resolve_materials(session, policy, body.materials, body.buyer_id)
    history = history_for(session, policy, order_id=order.order_id, item_id=body.item_id, buyer_id=body.buyer_id,
                          now=now, hashes={u.sha256 for u in resolved.uploads})
    request = Request(order_facts(order), body.item_id, body.reason, body.remedy, body.quantity, resolved.supplied)
    return _engine(policy, request, history, decided_at=now, now=now)


# ---------------------------------------------------------------- filing


def _request_hash(body: EligibilityRequest) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def new_case_id(policy: Policy, now: datetime) -> str:
    return f"AS{now.astimezone(policy.tz):%y%m%d}{secrets.randbelow(10**6):06d}"


def _status_for(decision: Decision) -> CaseStatus:
    return {
        Decision.NEEDS_MATERIALS: S.AWAITING_MATERIALS,
        Decision.NEEDS_REVIEW: S.PENDING_REVIEW,
        Decision.ELIGIBLE: S.APPROVED,
    }[decision]


def _store_materials(case: Case, materials: list[MaterialIn], uploads: tuple[Upload, ...], now: datetime) -> None:
    by_id = {u.upload_id: u for u in uploads}
    for m in materials:
        case.materials.append(
            CaseMaterial(code=m.code.value, upload_id=m.upload_id, upload=by_id.get(m.upload_id or ""),
                         text=m.text, seal_intact=m.seal_intact, created_at=now)
        )


def _after_decision(policy: Policy, case: Case, now: datetime) -> None:
    """An approved case moves on to its first working status at once (自动审核)."""
    if case.status == S.APPROVED:
        lifecycle.apply(case, Action.PROCEED, actor=Party.SYSTEM, actor_id=None, at=now)
    project(policy, case)


def file_case(session: Session, policy: Policy, body: EligibilityRequest, actor: Actor, now: datetime,
              idempotency_key: str | None) -> tuple[Case, bool]:
    """POST /cases. Returns (case, created). Raises ServiceError for every refusal."""
    scope = f"{actor.role.value}:{actor.buyer_scope or actor.actor_id or body.buyer_id}"
    request_hash = _request_hash(body)
    if idempotency_key:
        seen = session.get(IdempotencyKey, (scope, idempotency_key))
        if seen is not None:
            if seen.request_hash != request_hash:
                raise ServiceError(422, MSG_IDEMPOTENCY_REUSED)
            return get_case(session, seen.case_id, actor), False

    order = get_order(session, body.order_id, actor, body.buyer_id)
    if any(m.code == MaterialCode.RETURN_TRACKING for m in body.materials):
        raise ServiceError(422, MSG_TRACKING_IN_APPLICATION)
    resolved = resolve_materials(session, policy, body.materials, body.buyer_id)
    history = history_for(session, policy, order_id=order.order_id, item_id=body.item_id, buyer_id=body.buyer_id,
                          now=now, hashes={u.sha256 for u in resolved.uploads})
    facts = order_facts(order)
    request = Request(facts, body.item_id, body.reason, body.remedy, body.quantity, resolved.supplied)
    decision = _engine(policy, request, history, decided_at=now, now=now, materials_since=now)

    if decision.decision == Decision.DUPLICATE:
        existing = get_case(session, decision.existing_case_id or "", Actor(Party.SYSTEM))
        raise ServiceError(409, MSG_OPEN_CASE_EXISTS, {"decision": decision.model_dump(mode="json"),
                                                      "case_id": existing.case_id, "status": existing.status})
    if decision.decision == Decision.INELIGIBLE:
        raise ServiceError(422, "该申请不符合售后政策：" + "；".join(r.basis for r in decision.rules),
                           {"decision": decision.model_dump(mode="json")})
    if body.remedy is None:
        raise ServiceError(422, MSG_NO_REMEDY, {"decision": decision.model_dump(mode="json")})

    item = facts.item(body.item_id)
    assert item is not None  # the engine raised 404 otherwise
    case_id = new_case_id(policy, now)
    while session.get(Case, case_id) is not None:  # ids are random per day: collisions are rare
        case_id = new_case_id(policy, now)
    status = _status_for(decision.decision)
    case = Case(
        case_id=case_id, order_id=order.order_id, item_id=body.item_id, buyer_id=order.buyer_id,
        reason=body.reason.value, remedy=body.remedy.value, quantity=body.quantity or item.quantity,
        status=status.value, decision=decision.model_dump(mode="json"), policy_version=policy.version,
        item_paid=item_paid_amount(facts, item),
        refund_amount=decision.refund.amount if decision.refund else None,
        filed_at=now, created_at=now, updated_at=now, events=[], materials=[],
    )
    _store_materials(case, body.materials, resolved.uploads, now)
    lifecycle.record(case, action=Action.FILE, actor=actor.role, actor_id=actor.actor_id, at=now, from_status=None,
                     to_status=status, reason=None,
                     data={"decision": decision.decision.value, "rules": [r.id for r in decision.rules]})
    _after_decision(policy, case, now)
    try:
        with session.begin_nested():
            session.add(case)
            if idempotency_key:
                session.add(IdempotencyKey(scope=scope, key=idempotency_key, request_hash=request_hash,
                                           case_id=case.case_id, created_at=now))
            session.flush()
    except IntegrityError as exc:
        # Another request for the same item (or with the same key) won the race.
        if idempotency_key and session.get(IdempotencyKey, (scope, idempotency_key)) is not None:
            return file_case(session, policy, body, actor, now, idempotency_key)
        raise ServiceError(409, MSG_OPEN_CASE_EXISTS) from exc
    return case, True


# ---------------------------------------------------------------- re-evaluation


def _reevaluate(session: Session, policy: Policy, case: Case, now: datetime, remedy: Remedy) -> DecisionBody:
    """Decide a filed case again: d stays as it was at filing; the case itself is not history."""
    facts = order_facts(case.order_item.order)
    supplied = _stored_supplied(case)
    hashes = {m.upload.sha256 for m in case.materials if m.upload is not None}
    history = history_for(session, policy, order_id=case.order_id, item_id=case.item_id, buyer_id=case.buyer_id,
                          now=now, hashes=hashes, exclude_case_id=case.case_id)
    # Case-limit and duplicate checks were made at filing; a filed case is not blocked by itself.
    history = History(open_case=None, cases_for_item=0, buyer_recent_cases=history.buyer_recent_cases,
                      shared_evidence=history.shared_evidence)
    request = Request(facts, case.item_id, case.reason, remedy, case.quantity, supplied)
    return _engine(policy, request, history, decided_at=case.filed_at, now=now, materials_since=case.filed_at)


def _late_penalty(policy: Policy, case: Case, now: datetime) -> tuple[Decimal, dict[str, str | int]]:
    """The penalty the running merchant step has accrued by now, and how to record it."""
    late = days_late(policy, case.due_step, case.due_at, now)
    if not late:
        return Decimal("0.00"), {}
    amount = overdue_penalty(case.item_paid, policy.money.overdue_penalty_rate_per_day, late)
    return amount, {"overdue_step": case.due_step or "", "days_late": late, "penalty": f"{amount:.2f}"}


def add_materials(session: Session, policy: Policy, case: Case, materials: list[MaterialIn], actor: Actor,
                  now: datetime) -> Case:
    status = CaseStatus(case.status)
    tracking = [m for m in materials if m.code == MaterialCode.RETURN_TRACKING]
    evidence = [m for m in materials if m.code != MaterialCode.RETURN_TRACKING]
    if tracking:
        if status != S.AWAITING_RETURN:
            raise ServiceError(409, MSG_TRACKING_TOO_EARLY)
        number = (tracking[-1].text or "").replace(" ", "").upper()
        if not TRACKING_RE.match(number):
            raise ServiceError(422, MSG_TRACKING_FORMAT)
    if evidence and status not in (S.AWAITING_MATERIALS, S.PENDING_REVIEW):
        raise ServiceError(409, MSG_MATERIALS_CLOSED.format(status=lifecycle.STATUS_LABELS[status]))
    resolved = resolve_materials(session, policy, evidence, case.buyer_id)
    _store_materials(case, evidence, resolved.uploads, now)

    if tracking:
        case.return_tracking = number
        lifecycle.apply(case, Action.SHIP_RETURN, actor=actor.role, actor_id=actor.actor_id, at=now,
                        data={"tracking_number": number})
    elif status == S.AWAITING_MATERIALS:
        decision = _reevaluate(session, policy, case, now, Remedy(case.remedy))
        case.decision = decision.model_dump(mode="json")
        if decision.decision in (Decision.ELIGIBLE, Decision.NEEDS_REVIEW):
            lifecycle.apply(case, Action.MATERIALS_COMPLETE, actor=Party.SYSTEM, actor_id=None, at=now,
                            decided=_status_for(decision.decision),
                            data={"decision": decision.decision.value, "rules": [r.id for r in decision.rules]})
            _after_decision(policy, case, now)
    project(policy, case)
    session.flush()
    return case


# ---------------------------------------------------------------- transitions


def _approved_amount(policy: Policy, case: Case, amount: Decimal | None) -> Decimal | None:
    """The refund an approval fixes: set by a person for manual-amount remedies, else by policy."""
    manual = case.remedy == Remedy.PARTIAL_REFUND or any(
        r.get("id") == "R-REVIEW-MANUAL-AMOUNT" for r in case.decision.get("rules", [])
    )
    if not manual:
        if amount is not None:
            raise ServiceError(422, MSG_AMOUNT_NOT_ALLOWED)
        return case.refund_amount
    if amount is None or amount <= 0:
        raise ServiceError(422, MSG_AMOUNT_NEEDED)
    item_qty = case.order_item.quantity
    cap = refund_for_units(case.item_paid, case.quantity, item_qty)
    if amount > cap:
        raise ServiceError(422, MSG_AMOUNT_TOO_LARGE.format(cap=f"{cap:.2f}"))
    return amount


def change_remedy(session: Session, policy: Policy, case: Case, remedy: Remedy, actor: Actor, now: datetime) -> Case:
    lifecycle.check(case, Action.CHANGE_REMEDY, actor.role)
    decision = _reevaluate(session, policy, case, now, remedy)
    if decision.decision == Decision.INELIGIBLE:
        raise ServiceError(422, "该处理方式不可选：" + "；".join(r.basis for r in decision.rules),
                           {"decision": decision.model_dump(mode="json")})
    previous = case.remedy
    case.remedy = remedy.value
    case.decision = decision.model_dump(mode="json")
    case.refund_amount = decision.refund.amount if decision.refund else None
    target = S.AWAITING_MATERIALS if decision.decision == Decision.NEEDS_MATERIALS else _status_for(decision.decision)
    lifecycle.apply(case, Action.CHANGE_REMEDY, actor=actor.role, actor_id=actor.actor_id, at=now, decided=target,
                    data={"from_remedy": previous, "to_remedy": remedy.value, "decision": decision.decision.value})
    _after_decision(policy, case, now)
    session.flush()
    return case


def transition(session: Session, policy: Policy, case: Case, action: Action, actor: Actor, now: datetime, *,
               reason: str | None = None, amount: Decimal | None = None, rating: int | None = None) -> Case:
    """A merchant, agent, platform or buyer action from the API (never the system-only ones)."""
    if action in (Action.FILE, Action.MATERIALS_COMPLETE, Action.PROCEED, Action.CHANGE_REMEDY):
        raise TransitionRefused("该操作由系统执行，不能直接调用", status_code=422)
    lifecycle.check(case, action, actor.role, reason)
    data: dict[str, object] = {}
    if action == Action.RATE:  # one rating per case: the satisfaction figures count each case once
        if rating is None:
            raise ServiceError(422, MSG_RATING_NEEDED)
        if any(e.action == Action.RATE.value for e in case.events):
            raise ServiceError(409, MSG_ALREADY_RATED)
        data["rating"] = rating
    elif rating is not None:
        raise ServiceError(422, MSG_RATING_NOT_HERE)
    if action == Action.APPROVE:
        case.refund_amount = _approved_amount(policy, case, amount)
        if case.refund_amount is not None:
            data["refund_amount"] = f"{case.refund_amount:.2f}"
    elif amount is not None:
        raise ServiceError(422, "只有审核通过时可以填写金额")
    if action == Action.REFUND_FAILED:
        data["handoff"] = True
    running = (case.due_step, case.due_at)
    penalty, penalty_data = _late_penalty(policy, case, now)
    event = lifecycle.apply(case, action, actor=actor.role, actor_id=actor.actor_id, at=now, reason=reason,
                            data=data)
    if action == Action.APPROVE:
        _after_decision(policy, case, now)
    if CaseStatus(case.status) == S.REFUNDED:
        lifecycle.apply(case, Action.COMPLETE, actor=Party.SYSTEM, actor_id=None, at=now)
    project(policy, case)
    if penalty and (case.due_step, case.due_at) != running:
        # The late step ended with this action: freeze its penalty so reports keep counting it.
        case.penalty_settled = case.penalty_settled + penalty
        event.data = {**event.data, **penalty_data}
    try:
        session.flush()
    except IntegrityError as exc:  # a dispute reopening an item that meanwhile has another open case
        raise ServiceError(409, MSG_OPEN_CASE_EXISTS) from exc
    return case
