"""The policy as the bot and consoles need it: labels and FAQ answers, straight from policy.yaml."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from backend.api.deps import ActorDep, PolicyDep
from backend.cases.lifecycle import STATUS_LABELS
from backend.policy.answers import policy_answers

router = APIRouter(prefix="/policy", tags=["policy"])


class Vocabulary(BaseModel):
    version: str
    reasons: dict[str, str]
    remedies: dict[str, str]
    materials: dict[str, str]
    statuses: dict[str, str]


@router.get("/vocabulary", response_model=Vocabulary, summary="Chinese labels of every code")
def read_vocabulary(policy: PolicyDep, _: ActorDep) -> Vocabulary:
    return Vocabulary(
        version=policy.version,
        reasons={k.value: v.label for k, v in policy.reasons.items()},
        remedies={k.value: v.label for k, v in policy.remedies.items()},
        materials={k.value: v.label for k, v in policy.materials.items()},
        statuses={k.value: v for k, v in STATUS_LABELS.items()},
    )


@router.get("/answers", response_model=dict[str, str], summary="Answers to policy questions, by FAQ topic")
def read_answers(policy: PolicyDep, _: ActorDep) -> dict[str, str]:
    return policy_answers(policy)
