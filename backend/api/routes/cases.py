"""Filing cases, reading them, adding materials, progress and lifecycle actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from backend.api.deps import ActorDep, NowDep, PolicyDep, SessionDep, SettingsDep
from backend.cases import service
from backend.cases.lifecycle import Action
from backend.cases.progress import case_out, case_summary, progress, return_address_of
from backend.db.models import Case
from backend.errors import MSG_ORDER_NOT_FOUND, ServiceError
from backend.schemas.cases import CaseList, CaseOut, MaterialsIn, Progress, TransitionIn
from backend.schemas.common import CASE_ID_PATTERN, ORDER_ID_PATTERN, BuyerId
from backend.schemas.decisions import EligibilityRequest
from backend.vocab import CaseStatus, Party

router = APIRouter(tags=["cases"])
CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="AS followed by 10–14 digits")]
MSG_REMEDY_NEEDED = "更改处理方式需要提供 remedy"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128, pattern=r"^[\x21-\x7e]+$")]


@router.post("/cases", response_model=CaseOut, status_code=201, summary="File a case",
             responses={200: {"description": "The same Idempotency-Key was seen: the case it filed"},
                        409: {"description": "The item already has an open case (returned in the body)"},
                        422: {"description": "Ineligible, no remedy named, or invalid input"}})
def post_case(body: EligibilityRequest, session: SessionDep, policy: PolicyDep, actor: ActorDep, now: NowDep,
              response: Response, idempotency_key: IdempotencyKey = None) -> CaseOut:
    if actor.buyer_scope is not None and actor.buyer_scope != body.buyer_id:
        raise ServiceError(404, MSG_ORDER_NOT_FOUND)
    case, created = service.file_case(session, policy, body, actor, now, idempotency_key)
    session.commit()
    response.status_code = 201 if created else 200
    return case_out(policy, case, now)


@router.get("/cases", response_model=CaseList, summary="List cases, newest first")
def list_cases(
    session: SessionDep,
    actor: ActorDep,
    order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None,
    buyer_id: Annotated[BuyerId | None, Query()] = None,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100000)] = 0,
) -> CaseList:
    if actor.buyer_scope is not None:
        if buyer_id is not None and buyer_id != actor.buyer_scope:
            return CaseList(total=0, limit=limit, offset=offset, cases=[])
        buyer_id = actor.buyer_scope
    filters = []
    if order_id:
        filters.append(Case.order_id == order_id)
    if buyer_id:
        filters.append(Case.buyer_id == buyer_id)
    if status:
        filters.append(Case.status.in_([s.value for s in status]))
    total = session.scalar(select(func.count()).select_from(Case).where(*filters)) or 0
    rows = session.scalars(
        select(Case).where(*filters).options(selectinload(Case.order_item))
        .order_by(Case.created_at.desc(), Case.case_id.desc()).limit(limit).offset(offset)
    ).all()
    return CaseList(total=total, limit=limit, offset=offset, cases=[case_summary(c) for c in rows])


@router.get("/cases/{case_id}", response_model=CaseOut)
def read_case(case_id: CaseIdPath, session: SessionDep, policy: PolicyDep, actor: ActorDep, now: NowDep) -> CaseOut:
    return case_out(policy, service.get_case(session, case_id, actor), now)


@router.post("/cases/{case_id}/materials", response_model=CaseOut,
             summary="Add uploads, a description, a confirmation or the return tracking number")
def post_materials(case_id: CaseIdPath, body: MaterialsIn, session: SessionDep, policy: PolicyDep, actor: ActorDep,
                   now: NowDep) -> CaseOut:
    if actor.role not in (Party.BUYER, Party.MERCHANT, Party.AGENT):
        raise ServiceError(403, "没有权限补充凭证")
    case = service.get_case(session, case_id, actor, for_update=True)
    service.add_materials(session, policy, case, body.materials, actor, now)
    session.commit()
    return case_out(policy, case, now)


@router.get("/cases/{case_id}/progress", response_model=Progress,
            summary="Timeline, stage, the buyer's next step, deadline and overdue penalty")
def read_progress(case_id: CaseIdPath, session: SessionDep, policy: PolicyDep, actor: ActorDep, now: NowDep,
                  settings: SettingsDep) -> Progress:
    case = service.get_case(session, case_id, actor)
    return progress(policy, case, now, return_address_of(session, case, settings.return_address))


@router.post("/cases/{case_id}/transitions", response_model=CaseOut,
             summary="approve, reject, receive, inspect_pass, inspect_fail, refund, refund_failed, "
                     "ship_replacement, repair_done, complete, cancel, dispute, change_remedy, note")
def post_transition(case_id: CaseIdPath, body: TransitionIn, session: SessionDep, policy: PolicyDep,
                    actor: ActorDep, now: NowDep) -> CaseOut:
    if body.actor_role is not None and actor.role == Party.MERCHANT and actor.buyer_scope is None:
        actor = type(actor)(Party(body.actor_role), actor.actor_id)
    case = service.get_case(session, case_id, actor, for_update=True)
    if body.action == Action.CHANGE_REMEDY:
        if body.remedy is None:
            raise ServiceError(422, MSG_REMEDY_NEEDED)
        service.change_remedy(session, policy, case, body.remedy, actor, now)
    else:
        service.transition(session, policy, case, body.action, actor, now, reason=body.reason,
                           amount=body.refund_amount, rating=body.rating)
    session.commit()
    return case_out(policy, case, now)
