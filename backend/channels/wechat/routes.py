"""The webhook of each Official Account: `/channels/wechat/{account}`.

GET is WeChat's server URL verification (echo `echostr` back when the signature is right). POST is
a message or an event: checked (timestamp, signature, nonce not seen before, msg_signature and AppID
in safe mode), parsed without DTDs or entities, claimed once per MsgId, answered "success" at once
and handled in the background. Anything that fails a check is refused with a log line and no reply.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.channels.wechat.config import WechatAccount
from backend.channels.wechat.crypto import BadPayload, MessageCrypto, signature_ok
from backend.channels.wechat.messages import Inbound, inbound, parse_fields
from backend.db.models import WechatSeen
from backend.settings import Settings

log = logging.getLogger("backend.channels.wechat")
router = APIRouter(tags=["channels"])

SUPPORTED = frozenset({"text", "image", "voice", "event"})
AccountPath = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,32}$")]
Param = Annotated[str, Query(max_length=128)]


def _answer(text: str = "success", status: int = 200) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status)


def _refuse(account: str, request: Request, why: str, status: int = 403) -> PlainTextResponse:
    client = request.client.host if request.client else "?"
    log.warning("wechat %s: request from %s refused: %s", account, client, why)
    return _answer("forbidden" if status == 403 else "bad request", status)


def _account(request: Request, name: str) -> WechatAccount | None:
    settings: Settings = request.app.state.settings
    return settings.wechat_accounts.get(name)


def _fresh(settings: Settings, now: datetime, timestamp: str) -> bool:
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(now.timestamp() - int(timestamp)) <= settings.wechat_timestamp_tolerance_seconds


@router.get("/channels/wechat/{account}", response_class=PlainTextResponse,
            summary="WeChat server URL verification (服务器配置): echoes echostr when the signature is right")
def verify_url(request: Request, account: AccountPath, signature: Param = "", timestamp: Param = "",
               nonce: Param = "", echostr: Annotated[str, Query(max_length=256)] = "") -> PlainTextResponse:
    config = _account(request, account)
    if config is None:
        return _answer("not found", 404)
    if not (signature and timestamp and nonce and echostr):
        return _refuse(account, request, "verification without signature, timestamp, nonce or echostr", 400)
    if not _fresh(request.app.state.settings, request.app.state.clock(), timestamp):
        return _refuse(account, request, "stale timestamp on URL verification")
    if not signature_ok(config.token.get_secret_value(), timestamp, nonce, signature):
        return _refuse(account, request, "bad signature on URL verification")
    return _answer(echostr)


_pruned: dict[str, datetime] = {}


def _remember(session_factory: sessionmaker[Session], account: str, key: str, digest: str | None, now: datetime,
              retention_hours: int) -> str | None:
    """Claims `key` for this account: None if it is new, else the digest it was first seen with."""
    with session_factory() as session:
        last = _pruned.get(account)
        if last is None or abs((now - last).total_seconds()) > 60:  # old keys go, once a minute per worker
            _pruned[account] = now
            session.execute(delete(WechatSeen).where(WechatSeen.account == account,
                                                     WechatSeen.seen_at < now - timedelta(hours=retention_hours)))
            session.commit()
        try:
            session.add(WechatSeen(account=account, key=key, digest=digest, seen_at=now))
            session.commit()
            return None
        except IntegrityError:
            session.rollback()
        row = session.get(WechatSeen, (account, key))
        return (row.digest or "") if row is not None else ""


@router.post("/channels/wechat/{account}", response_class=PlainTextResponse,
             summary="A message or event from WeChat: verified, claimed once, answered \"success\" at once")
async def receive(request: Request, account: AccountPath, signature: Param = "", timestamp: Param = "",
                  nonce: Param = "", encrypt_type: Param = "", msg_signature: Param = "") -> PlainTextResponse:
    app = request.app
    settings: Settings = app.state.settings
    config = _account(request, account)
    if config is None:
        return _answer("not found", 404)
    if not (signature and timestamp and nonce):
        return _refuse(account, request, "no signature, timestamp or nonce", 400)
    now = app.state.clock()
    if not _fresh(settings, now, timestamp):
        return _refuse(account, request, f"stale timestamp {timestamp[:12]}")
    token = config.token.get_secret_value()
    if not signature_ok(token, timestamp, nonce, signature):
        return _refuse(account, request, "bad signature")

    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.wechat_max_body_bytes:
            return _refuse(account, request, "body too large", 413)
    data = bytes(body)

    # The signature covers timestamp and nonce only, not the body: a nonce is good for one body.
    digest = hashlib.sha256(data).hexdigest()
    earlier = await anyio.to_thread.run_sync(_remember, app.state.session_factory, account,
                                             f"n:{timestamp}:{nonce[:64]}", digest, now,
                                             settings.wechat_seen_retention_hours)
    if earlier is not None:
        if earlier == digest:  # the same request again (a retry): it was taken the first time
            log.info("wechat %s: request %s:%s delivered again; ignored", account, timestamp, nonce[:64])
            return _answer()
        return _refuse(account, request, "nonce replayed with another body")

    try:
        message = _open(config, data, timestamp, nonce, encrypt_type, msg_signature)
    except BadPayload as exc:
        return _refuse(account, request, str(exc), 400)
    if config.original_id and message.to != config.original_id:
        return _refuse(account, request, "addressed to another account")
    if message.msg_type not in SUPPORTED:
        log.info("wechat %s: %s message from %s ignored", account, message.msg_type, message.openid)
        return _answer()
    if await anyio.to_thread.run_sync(_remember, app.state.session_factory, account, message.key, None, now,
                                      settings.wechat_seen_retention_hours) is not None:
        log.info("wechat %s: %s already handled; ignored", account, message.key)
        return _answer()
    app.state.wechat.spawn(account, message)
    return _answer()


def _open(config: WechatAccount, data: bytes, timestamp: str, nonce: str, encrypt_type: str,
          msg_signature: str) -> Inbound:
    """The message inside the body, in the account's mode."""
    fields = parse_fields(data)
    encrypted = encrypt_type.lower() == "aes" or "Encrypt" in fields
    if config.mode == "safe" and not encrypted:
        raise BadPayload("plaintext body to a safe-mode account")
    if not encrypted:
        return inbound(fields)
    if config.mode == "plain" or config.encoding_aes_key is None:
        raise BadPayload("encrypted body to a plaintext account")
    crypto = MessageCrypto(config.token.get_secret_value(), config.encoding_aes_key.get_secret_value(), config.app_id)
    cipher = fields.get("Encrypt", "").strip()
    if not cipher or not msg_signature:
        raise BadPayload("encrypted body without Encrypt or msg_signature")
    if not crypto.msg_signature_ok(timestamp, nonce, cipher, msg_signature):
        raise BadPayload("bad msg_signature")
    return inbound(parse_fields(crypto.decrypt(cipher)))
