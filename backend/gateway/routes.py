"""The gateway's doors: buyer tokens, buyer uploads, the buyer socket and the agent socket."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import APIRouter, File, Header, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocketDisconnected, WebSocketState

from backend.api.deps import SESSION_COOKIE, NowDep, SessionDep, SettingsDep, current_agent
from backend.api.routes.uploads import read_limited, upload_out
from backend.errors import ServiceError
from backend.gateway import tokens
from backend.gateway.hub import AGENTS, Subscription, conversation_topic
from backend.gateway.relay import Ack, FrameError, RateLimiter, Relay
from backend.observability.logs import bind as bind_log_ids
from backend.schemas.common import BuyerId
from backend.schemas.conversations import HelloFrame, MessageFrame, PingFrame, RequestHumanFrame, WatchFrame
from backend.schemas.uploads import UploadOut
from backend.settings import Settings
from backend.uploads.storage import store

log = logging.getLogger("backend.gateway")
router = APIRouter(tags=["gateway"])

MAX_FRAME_CHARS = 16 * 1024
HELLO_TIMEOUT = 15.0
AGENT_RECHECK_SECONDS = 30.0
CLOSE_BAD_TOKEN = 4401
CLOSE_FORBIDDEN = 4403
MSG_BAD_TOKEN = "登录已过期或无效，请刷新页面后重试"
MSG_BAD_FRAME = "消息格式不正确"
MSG_TOO_MANY_UPLOADS = "上传太频繁了，请稍后再试"
MSG_NOT_IN_PRODUCTION = "生产环境不提供演示令牌"


class TokenOut(BaseModel):
    token: str
    conversation_id: str
    buyer_id: str | None
    expires_at: datetime


def _issue(settings: Settings, user: str, now: datetime, *, anonymous: bool) -> TokenOut:
    hours = settings.widget_token_max_hours
    token = tokens.issue(settings.widget_token_secret.get_secret_value(), user, now, hours, anonymous=anonymous)
    return TokenOut(token=token, conversation_id=f"web:{user}", buyer_id=None if anonymous else user,
                    expires_at=now + timedelta(hours=hours))


@router.post("/gateway/anonymous", response_model=TokenOut, status_code=201,
             summary="A token for a visitor who is not logged in (policy questions only)")
def post_anonymous(settings: SettingsDep, now: NowDep) -> TokenOut:
    return _issue(settings, tokens.new_anonymous_user(), now, anonymous=True)


@router.get("/demo/widget-token", response_model=TokenOut,
            summary="Demo only: the backend plays the shop's site and signs a buyer's widget token")
def demo_widget_token(settings: SettingsDep, now: NowDep, buyer_id: Annotated[BuyerId, Query()] = "b_1001") -> TokenOut:
    if settings.app_env == "production":
        raise ServiceError(404, MSG_NOT_IN_PRODUCTION)
    if buyer_id.startswith(tokens.ANONYMOUS_PREFIX):
        raise ServiceError(422, MSG_BAD_TOKEN)
    return _issue(settings, buyer_id, now, anonymous=False)


def visitor_from(settings: Settings, token: str | None, now: datetime) -> tokens.Visitor:
    if not token:
        raise tokens.BadToken("missing")
    return tokens.verify(settings.widget_token_secret.get_secret_value(), token, now, settings.widget_token_max_hours)


@router.post("/gateway/uploads", response_model=UploadOut, status_code=201,
             summary="A buyer's evidence file, sent from the widget with the widget token")
def post_gateway_upload(request: Request, session: SessionDep, settings: SettingsDep, now: NowDep,
                        file: Annotated[UploadFile, File()],
                        authorization: Annotated[str | None, Header()] = None) -> UploadOut:
    token = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None
    try:
        visitor = visitor_from(settings, token, now)
    except tokens.BadToken as exc:
        raise ServiceError(401, MSG_BAD_TOKEN) from exc
    if visitor.buyer_id is None:
        raise ServiceError(403, "请先登录后再上传图片或视频")
    limiter: RateLimiter = request.app.state.upload_limiter
    if not limiter.allow(visitor.buyer_id):
        raise ServiceError(429, MSG_TOO_MANY_UPLOADS)
    data = read_limited(file, settings.max_upload_bytes)
    upload = store(session, settings.upload_dir, data, client_name=file.filename, buyer_id=visitor.buyer_id,
                   max_pixels=settings.max_image_pixels, now=now)
    session.commit()
    return upload_out(upload)


# -- sockets ---------------------------------------------------------------------------------------

async def _send(ws: WebSocket, frame: dict[str, Any]) -> None:
    if ws.client_state == WebSocketState.CONNECTED:
        await ws.send_text(json.dumps(frame, ensure_ascii=False))


async def _pump(ws: WebSocket, sub: Subscription) -> None:
    """Hub events to the socket, until the hub drops a subscriber that fell too far behind."""
    while True:
        event = await sub.get()
        if event is None:
            await ws.close(code=1013)
            return
        await _send(ws, event)


async def _receive(ws: WebSocket) -> dict[str, Any] | None:
    raw = await ws.receive_text()
    if len(raw) > MAX_FRAME_CHARS:
        await _send(ws, {"type": "error", "code": "too_long", "message": "消息太长了"})
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        frame = None
    if not isinstance(frame, dict):
        await _send(ws, {"type": "error", "code": "bad_frame", "message": MSG_BAD_FRAME})
        return None
    return frame


@router.websocket("/gateway/ws")
async def buyer_socket(ws: WebSocket) -> None:
    app = ws.app
    settings: Settings = app.state.settings
    relay: Relay = app.state.relay
    await ws.accept()
    try:
        first = await asyncio.wait_for(_receive(ws), HELLO_TIMEOUT)
        hello = HelloFrame.model_validate(first)
        visitor = visitor_from(settings, hello.token, app.state.clock())
    except (TimeoutError, ValidationError, tokens.BadToken, WebSocketDisconnect):
        await _send(ws, {"type": "error", "code": "bad_token", "message": MSG_BAD_TOKEN})
        await ws.close(code=CLOSE_BAD_TOKEN)
        return
    bind_log_ids(conversation_id=visitor.conversation_id)  # every log line of this socket carries it
    sub = app.state.hub.subscribe(conversation_topic(visitor.conversation_id))
    pump: asyncio.Task[None] | None = None
    try:
        mode, messages = await relay.open(visitor, hello.last_seq)
        await _send(ws, {"type": "welcome", "conversation_id": visitor.conversation_id,
                         "buyer_id": visitor.buyer_id, "mode": mode})
        await _send(ws, {"type": "history", "messages": messages})
        pump = asyncio.create_task(_pump(ws, sub))
        while True:
            frame = await _receive(ws)
            if frame is not None:
                await _buyer_frame(ws, relay, visitor, frame)
    except (WebSocketDisconnect, WebSocketDisconnected):  # closed by the buyer, or while we wrote to it
        pass
    finally:
        sub.close()
        if pump is not None:
            pump.cancel()


async def _buyer_frame(ws: WebSocket, relay: Relay, visitor: tokens.Visitor, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    try:
        if kind == "message":
            async def acknowledge(ack: Ack) -> None:
                await _send(ws, {"type": "ack", "client_id": ack.client_id, "seq": ack.seq})
            await relay.buyer_message(visitor, MessageFrame.model_validate(frame), acknowledge)
        elif kind == "request_human":
            RequestHumanFrame.model_validate(frame)
            await relay.request_human(visitor)
        elif kind == "ping":
            PingFrame.model_validate(frame)
            await _send(ws, {"type": "pong"})
        else:
            raise FrameError("bad_frame", MSG_BAD_FRAME)
    except ValidationError:
        await _send(ws, {"type": "error", "code": "bad_frame", "message": MSG_BAD_FRAME, "client_id": client_id})
    except FrameError as exc:
        await _send(ws, {"type": "error", "code": exc.code, "message": exc.message, "client_id": client_id})


def same_origin(origin: str | None, host: str | None) -> bool:
    """An agent's cookie only counts from the console's own origin (no cross-site socket hijacking)."""
    return bool(origin and host) and urlsplit(origin).netloc.lower() == host.lower()  # type: ignore[union-attr]


@router.websocket("/gateway/agent/ws")
async def agent_socket(ws: WebSocket) -> None:
    app = ws.app
    await ws.accept()
    if not same_origin(ws.headers.get("origin"), ws.headers.get("host")):
        await _send(ws, {"type": "error", "code": "forbidden", "message": "跨站连接被拒绝"})
        await ws.close(code=CLOSE_FORBIDDEN)
        return

    def logged_in() -> bool:
        with app.state.session_factory() as session:
            return current_agent(session, ws.cookies.get(SESSION_COOKIE), app.state.clock()) is not None

    async def refuse() -> None:
        await _send(ws, {"type": "error", "code": "login_required", "message": "请先登录"})
        await ws.close(code=CLOSE_BAD_TOKEN)

    if not await anyio.to_thread.run_sync(logged_in):
        await refuse()
        return
    async def watchdog() -> None:
        """A logged-out or deactivated agent stops hearing buyers soon, not when the socket drops."""
        while True:
            await asyncio.sleep(AGENT_RECHECK_SECONDS)
            if not await anyio.to_thread.run_sync(logged_in):
                await refuse()
                return

    sub = app.state.hub.subscribe(AGENTS)
    pump = asyncio.create_task(_pump(ws, sub))
    guard = asyncio.create_task(watchdog())
    try:
        while True:
            frame = await _receive(ws)
            if not await anyio.to_thread.run_sync(logged_in):
                await refuse()
                return
            if frame is None:
                continue
            try:
                if frame.get("type") == "watch":
                    sub.add(conversation_topic(WatchFrame.model_validate(frame).conversation_id))
                elif frame.get("type") == "ping":
                    await _send(ws, {"type": "pong"})
                else:
                    await _send(ws, {"type": "error", "code": "bad_frame", "message": MSG_BAD_FRAME})
            except ValidationError:
                await _send(ws, {"type": "error", "code": "bad_frame", "message": MSG_BAD_FRAME})
    except (WebSocketDisconnect, RuntimeError):  # RuntimeError: the watchdog closed the socket meanwhile
        pass
    finally:
        sub.close()
        pump.cancel()
        guard.cancel()
