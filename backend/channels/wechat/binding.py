"""Who an openid is: an anonymous visitor until it proves an order is its own (order number plus the
last four digits of the receiver's phone), then that order's buyer.

Attempts are limited per openid and per order number, counted in the database so every worker sees
them, and the answer never tells whether the order exists: a missing order, a wrong tail and an
order without a tail all get the same words, after the same queries.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Conversation, Order, WechatBindAttempt, WechatUser

BIND_HINT = "如需办理售后，请先绑定订单：发送「绑定 订单号 收货手机号后四位」，例如：绑定 2026111812345678 1234"
BIND_USAGE = "绑定的格式是：绑定 订单号 收货手机号后四位（订单号16位数字），例如：绑定 2026111812345678 1234"
BIND_OK = "绑定成功！现在可以在这里申请售后、补充凭证和查询进度了。"
BIND_FAILED = "未能验证订单信息，请核对订单号和收货手机号后四位后再试。"
BIND_LIMITED = "尝试次数过多，请{minutes}分钟后再试，或发送「转人工」联系客服。"
UNBIND_OK = "已解除绑定。需要办理售后时，可以重新发送「绑定 订单号 收货手机号后四位」。"
UNBIND_NONE = "您还没有绑定订单。"

_BIND = re.compile(r"^(?:绑定|bind)\s*[:：]?\s*(?:订单号?)?\s*([0-9]{16})\s*[,，;；\s]\s*(?:手机(?:号)?(?:后四位)?)?\s*[:：]?\s*([0-9]{4})$",
                   re.IGNORECASE)
_UNBIND = re.compile(r"^(?:解绑|解除绑定|unbind)$", re.IGNORECASE)


@dataclass(frozen=True)
class Bind:
    order_id: str
    tail: str


@dataclass(frozen=True)
class BindUsage:
    """Starts like a binding but is not one: show the format."""


@dataclass(frozen=True)
class Unbind:
    pass


Command = Bind | BindUsage | Unbind


def command(text: str) -> Command | None:
    normalized = unicodedata.normalize("NFKC", text).strip()
    if _UNBIND.match(normalized):
        return Unbind()
    match = _BIND.match(normalized)
    if match:
        return Bind(match.group(1), match.group(2))
    if re.match(r"^(?:绑定|bind\b)", normalized, re.IGNORECASE):
        return BindUsage()
    return None


def redacted(cmd: Bind) -> str:
    """The binding message as the conversation log keeps it: the phone tail is not for agents' eyes."""
    return f"绑定 {cmd.order_id} ****"


def touch(session: Session, account: str, openid: str, now: datetime) -> WechatUser:
    """The openid's row, made on first contact. Caller commits."""
    row = session.get(WechatUser, openid)
    if row is not None:
        return row
    row = WechatUser(openid=openid, account=account, buyer_id=None, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same user's previous message, in another worker
        row = session.get(WechatUser, openid, populate_existing=True)
        assert row is not None
    return row


@dataclass(frozen=True)
class Outcome:
    text: str
    buyer_id: str | None        # the openid's buyer afterwards
    previous: str | None        # the buyer before (to tell the bot when it changed)


def _failures(session: Session, column: object, value: str, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(WechatBindAttempt).where(
        column == value, WechatBindAttempt.ok.is_(False), WechatBindAttempt.at > since)) or 0  # type: ignore[operator]


def bind(session: Session, user: WechatUser, cmd: Bind, now: datetime, *, max_failures: int,
         order_max_failures: int, window_minutes: int) -> Outcome:
    """Caller commits."""
    previous = user.buyer_id
    since = now - timedelta(minutes=window_minutes)
    if (_failures(session, WechatBindAttempt.openid, user.openid, since) >= max_failures
            or _failures(session, WechatBindAttempt.order_id, cmd.order_id, since) >= order_max_failures):
        return Outcome(BIND_LIMITED.format(minutes=window_minutes), previous, previous)
    order = session.get(Order, cmd.order_id)
    expected = order.receiver_phone_tail if order is not None and order.receiver_phone_tail else "----"
    ok = hmac.compare_digest(expected.encode(), cmd.tail.encode()) and order is not None
    session.add(WechatBindAttempt(openid=user.openid, order_id=cmd.order_id, ok=ok, at=now))
    if not ok:
        return Outcome(BIND_FAILED, previous, previous)
    assert order is not None
    user.buyer_id, user.bound_order_id, user.bound_at, user.updated_at = order.buyer_id, order.order_id, now, now
    _conversation_owner(session, user.openid, order.buyer_id, now)
    return Outcome(BIND_OK, order.buyer_id, previous)


def unbind(session: Session, user: WechatUser, now: datetime) -> Outcome:
    previous = user.buyer_id
    if previous is None:
        return Outcome(UNBIND_NONE, None, None)
    user.buyer_id, user.bound_order_id, user.bound_at, user.updated_at = None, None, None, now
    _conversation_owner(session, user.openid, None, now)
    return Outcome(UNBIND_OK, None, previous)


def _conversation_owner(session: Session, openid: str, buyer_id: str | None, now: datetime) -> None:
    """The conversation belongs to the bound buyer: status pushes find it, handoffs show who it is."""
    conversation = session.get(Conversation, f"wechat:{openid}")
    if conversation is not None:
        conversation.buyer_id = buyer_id
