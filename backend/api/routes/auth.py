"""Agent login and logout (cookie session, HttpOnly, SameSite=Strict)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Response
from pydantic import BaseModel, StringConstraints

from backend.agents import hash_token, login
from backend.api.deps import SESSION_COOKIE, NowDep, SessionDep, SettingsDep, current_agent
from backend.db.models import AgentSession
from backend.errors import ServiceError
from backend.schemas.common import WireModel

router = APIRouter(prefix="/auth", tags=["agents"])


class LoginIn(WireModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=False)]


class AgentOut(BaseModel):
    username: str
    display_name: str
    role: str


@router.post("/login", response_model=AgentOut)
def post_login(body: LoginIn, session: SessionDep, settings: SettingsDep, now: NowDep, response: Response) -> AgentOut:
    agent, token = login(session, body.username, body.password, now=now, hours=settings.agent_session_hours)
    session.commit()
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.agent_session_hours * 3600, httponly=True,
                        samesite="strict", secure=settings.app_env == "production", path="/")
    return AgentOut(username=agent.username, display_name=agent.display_name, role=agent.role)


@router.post("/logout", status_code=204)
def post_logout(session: SessionDep, response: Response,
                agent_session: Annotated[str | None, Cookie()] = None) -> Response:
    if agent_session:
        row = session.get(AgentSession, hash_token(agent_session))
        if row is not None:
            session.delete(row)
            session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=AgentOut)
def read_me(session: SessionDep, now: NowDep, agent_session: Annotated[str | None, Cookie()] = None) -> AgentOut:
    agent = current_agent(session, agent_session, now)
    if agent is None:
        raise ServiceError(401, "请先登录")
    return AgentOut(username=agent.username, display_name=agent.display_name, role=agent.role)
