"""Evaluate a request against the policy without filing anything."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ActorDep, NowDep, PolicyDep, SessionDep
from backend.cases.service import decide
from backend.errors import MSG_ORDER_NOT_FOUND, ServiceError
from backend.schemas.decisions import DecisionBody, EligibilityRequest

router = APIRouter(tags=["eligibility"])


@router.post("/eligibility", response_model=DecisionBody, summary="Decide a request without filing it")
def post_eligibility(body: EligibilityRequest, session: SessionDep, policy: PolicyDep, actor: ActorDep,
                     now: NowDep) -> DecisionBody:
    if actor.buyer_scope is not None and actor.buyer_scope != body.buyer_id:
        raise ServiceError(404, MSG_ORDER_NOT_FOUND)
    return decide(session, policy, body, actor, now)
