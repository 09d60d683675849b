"""Widget tokens: the shop's site signs who the buyer is; anonymous visitors get a token of ours.

A JWT (HS256, PyJWT) because shops already have libraries for it in every language.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from pydantic import TypeAdapter, ValidationError

from backend.schemas.common import BuyerId

ALGORITHM = "HS256"
ANONYMOUS_PREFIX = "anon-"
_BUYER_ID: TypeAdapter[str] = TypeAdapter(BuyerId)


class BadToken(Exception):
    """Forged, expired, too long-lived or malformed."""


@dataclass(frozen=True)
class Visitor:
    channel: str
    user: str             # buyer id, or anon-<random> for an anonymous visitor
    buyer_id: str | None  # None: not verified, policy answers only

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.user}"


def issue(secret: str, user: str, now: datetime, hours: float, *, anonymous: bool = False) -> str:
    claims = {"sub": user, "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=hours)).timestamp())}
    if anonymous:
        claims["anon"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def new_anonymous_user() -> str:
    return ANONYMOUS_PREFIX + secrets.token_hex(16)


def verify(secret: str, token: str, now: datetime, max_hours: int) -> Visitor:
    try:
        # Expiry is checked below against the application's clock (one clock for the whole backend).
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_iat": False})
    except jwt.PyJWTError as exc:
        raise BadToken(str(exc)) from exc
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int):
        raise BadToken("times")
    if int(claims["exp"]) - int(claims["iat"]) > max_hours * 3600 or int(claims["iat"]) > now.timestamp() + 60:
        raise BadToken("lifetime")
    if int(claims["exp"]) < now.timestamp() - 30:  # the app's clock, which tests may move
        raise BadToken("expired")
    user = claims["sub"]
    if not isinstance(user, str):
        raise BadToken("sub")
    if claims.get("anon") is True:
        if not user.startswith(ANONYMOUS_PREFIX) or len(user) != len(ANONYMOUS_PREFIX) + 32:
            raise BadToken("sub")
        return Visitor("web", user, None)
    if user.startswith(ANONYMOUS_PREFIX):
        raise BadToken("sub")
    try:
        _BUYER_ID.validate_python(user)
    except ValidationError as exc:
        raise BadToken("sub") from exc
    return Visitor("web", user, user)
