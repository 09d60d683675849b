"""Dependencies shared by the routers: settings, policy, clock, database session, and who is calling.

Ownership is decided here once: a buyer-scoped caller gets an Actor with `buyer_scope`, and the
service layer filters every read and write by it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from backend.agents import hash_token
from backend.cases.actor import Actor
from backend.db.models import Agent, AgentSession
from backend.errors import ServiceError
from backend.policy.config import Policy
from backend.schemas.common import BuyerId
from backend.settings import Settings
from backend.vocab import Party

SESSION_COOKIE = "agent_session"
MSG_AUTH_REQUIRED = "需要登录或提供服务令牌"
MSG_FORBIDDEN = "没有权限执行此操作"
MSG_BAD_BUYER = "X-Buyer-Id 格式不正确"
_BUYER_ID: TypeAdapter[str] = TypeAdapter(BuyerId)


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_policy(request: Request) -> Policy:
    return request.app.state.policy


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    finally:
        session.rollback()  # handlers commit what they mean to keep; anything else is dropped
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
NowDep = Annotated[datetime, Depends(get_now)]
SessionDep = Annotated[Session, Depends(get_session)]


def current_agent(session: Session, token: str | None, now: datetime) -> Agent | None:
    if not token:
        return None
    row = session.get(AgentSession, hash_token(token))
    if row is None or row.expires_at <= now:
        return None
    agent = session.get(Agent, row.agent_id)
    return agent if agent is not None and agent.active else None


def get_actor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    authorization: Annotated[str | None, Header()] = None,
    x_buyer_id: Annotated[str | None, Header()] = None,
) -> Actor:
    """Service token (optionally acting for one buyer via X-Buyer-Id) or an agent's login session."""
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        expected = settings.case_api_token.get_secret_value()
        if hmac.compare_digest(token.encode(), expected.encode()):
            if x_buyer_id is not None:
                try:
                    _BUYER_ID.validate_python(x_buyer_id)
                except ValidationError as exc:
                    raise ServiceError(422, MSG_BAD_BUYER) from exc
                return Actor(Party.BUYER, actor_id=x_buyer_id, buyer_scope=x_buyer_id)
            return Actor(Party.MERCHANT, actor_id="service")
        raise ServiceError(401, MSG_AUTH_REQUIRED)
    agent = current_agent(session, request.cookies.get(SESSION_COOKIE), now)
    if agent is not None:
        return Actor(Party.AGENT, actor_id=agent.username)
    raise ServiceError(401, MSG_AUTH_REQUIRED)


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_service(actor: ActorDep) -> Actor:
    """Only an unscoped service caller (the order feed, merchant tools) may do this."""
    if actor.role != Party.MERCHANT or actor.buyer_scope is not None:
        raise ServiceError(403, MSG_FORBIDDEN)
    return actor


ServiceDep = Annotated[Actor, Depends(require_service)]

