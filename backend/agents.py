"""Agent accounts: argon2-hashed passwords and server-side login sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from backend.db.models import Agent, AgentSession
from backend.errors import ServiceError

_hasher = PasswordHasher()
MIN_PASSWORD = 10
MSG_WEAK_PASSWORD = f"密码至少需要 {MIN_PASSWORD} 个字符"
MSG_LOGIN_FAILED = "用户名或密码错误"
# Verified against when the user does not exist, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_token(token: str) -> str:
    """Sessions are stored by hash: a leaked table does not log anyone in."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_agent(session: Session, username: str, password: str, *, display_name: str, role: str,
                 now: datetime) -> Agent:
    if len(password) < MIN_PASSWORD:
        raise ServiceError(422, MSG_WEAK_PASSWORD)
    agent = session.query(Agent).filter_by(username=username).one_or_none()
    if agent is None:
        agent = Agent(username=username, created_at=now)
        session.add(agent)
    agent.display_name, agent.role, agent.active = display_name, role, True
    agent.password_hash = _hasher.hash(password)
    session.flush()
    return agent


def login(session: Session, username: str, password: str, *, now: datetime, hours: int) -> tuple[Agent, str]:
    agent = session.query(Agent).filter_by(username=username, active=True).one_or_none()
    try:
        _hasher.verify(agent.password_hash if agent else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise ServiceError(401, MSG_LOGIN_FAILED) from None
    if agent is None:
        raise ServiceError(401, MSG_LOGIN_FAILED)
    token = secrets.token_urlsafe(32)
    session.add(AgentSession(token_hash=hash_token(token), agent_id=agent.agent_id, created_at=now,
                             expires_at=now + timedelta(hours=hours)))
    session.flush()
    return agent, token
