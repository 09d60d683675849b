"""A buyer's message, from the socket to the log and on to the bot or the agent.

Messages of one conversation are handled one at a time (a lock per conversation, shared by the
workers through Redis in production mode), so the bot sees them in the order the buyer sent them and
replies are logged in that order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import Conversation
from backend.gateway import events, store
from backend.gateway.hub import AGENTS, Hub, conversation_topic, message_topics
from backend.gateway.locks import ConversationLocks
from backend.gateway.rasa import RasaClient, RasaPool, RasaUnavailable
from backend.gateway.rate_limits import Limiter, RateLimiter
from backend.gateway.tokens import Visitor
from backend.observability import metrics
from backend.observability.logs import bind as bind_log_ids
from backend.schemas.conversations import MessageFrame
from backend.schemas.handoffs import HandoffReason
from backend.settings import Settings

log = logging.getLogger("backend.gateway")

MSG_TOO_LONG = "消息太长了，请分几次发送（最多{limit}字）"
MSG_EMPTY = "消息不能为空"
MSG_TOO_FAST = "您发送得太快了，请稍等几秒再发"
MSG_BAD_ATTACHMENT = "附件无效或已过期，请重新上传"
MSG_LOGIN_TO_UPLOAD = "请先登录后再上传图片或视频"
MSG_BOT_DOWN = "抱歉，智能助手暂时无法回复，您的消息已保存。您可以稍后再试，或点击下方按钮转人工客服。"
MSG_HUMAN_REQUESTED = "已为您转接人工客服，请稍候，客服接入后会在这里回复您。"
MSG_ALREADY_WITH_HUMAN = "人工客服正在处理您的会话，请稍候。"
SUMMARY_LINES = 12


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Ack:
    client_id: str
    seq: int


class Relay:
    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], hub: Hub,
                 clock: Callable[[], datetime], rasa: RasaClient | RasaPool, *,
                 locks: ConversationLocks | None = None, messages: Limiter | None = None) -> None:
        self.settings, self.session_factory, self.hub, self.clock, self.rasa = (
            settings, session_factory, hub, clock, rasa)
        self.locks = locks or ConversationLocks()
        self.messages: Limiter = messages or RateLimiter(settings.message_burst, 10.0)

    def _lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return self.locks.hold(conversation_id)

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with self.session_factory() as session:
                return fn(session, *args)
        return await anyio.to_thread.run_sync(run)

    # -- opening a socket -------------------------------------------------------------------

    async def open(self, visitor: Visitor, last_seq: int) -> tuple[str, list[dict[str, Any]]]:
        """Create the conversation on first contact; its mode and the messages the client lacks."""
        def run(session: Session) -> tuple[str, list[dict[str, Any]]]:
            store.ensure_conversation(session, visitor.conversation_id, visitor.channel, visitor.buyer_id,
                                      self.clock())
            session.commit()
            mode = "agent" if store.live_handoff(session, visitor.conversation_id) else "bot"
            return mode, [store.message_json(m) for m in store.history(session, visitor.conversation_id, last_seq)]
        return await self._db(run)

    # -- a buyer's message ------------------------------------------------------------------

    def _check(self, visitor: Visitor, frame: MessageFrame) -> str:
        text = frame.text.strip()
        if len(text) > self.settings.max_message_chars:
            raise FrameError("too_long", MSG_TOO_LONG.format(limit=self.settings.max_message_chars))
        if not text.lstrip("/").strip() and not frame.attachments and not frame.payload:
            raise FrameError("empty", MSG_EMPTY)
        if frame.attachments and visitor.buyer_id is None:
            raise FrameError("login_required", MSG_LOGIN_TO_UPLOAD)
        if not self.messages.allow(visitor.conversation_id):
            raise FrameError("too_fast", MSG_TOO_FAST)
        return text

    async def buyer_message(self, visitor: Visitor, frame: MessageFrame,
                            on_stored: Callable[[Ack], Awaitable[None]]) -> None:
        """Logs the message, acknowledges it as soon as it is safe, then lets the bot or agent have it."""
        text = self._check(visitor, frame)
        conversation_id = visitor.conversation_id
        bind_log_ids(conversation_id=conversation_id)  # on every log line of this message
        async with self._lock(conversation_id):
            stored = await self._db(self._store_buyer, visitor, frame, text)
            if stored is None:
                raise FrameError("bad_attachment", MSG_BAD_ATTACHMENT)
            message, created, with_agent, paused = stored
            try:
                await on_stored(Ack(frame.client_id, message["seq"]))
            except Exception as exc:  # noqa: BLE001 - the socket closed before the ack: the message is
                # logged, so it is answered all the same (the buyer finds the answer on reconnecting; a
                # resend of it is taken for what it is, an already answered message).
                log.info("ack not delivered (%s); answering the stored message anyway", type(exc).__name__)
            if not created:  # a resend after a reconnect: already logged and answered
                return
            self._publish(conversation_id, message)
            if with_agent:  # every console sees it, watching or not (the queue shows who is waiting)
                self.hub.publish(AGENTS, {"type": "message", "conversation_id": conversation_id, "message": message})
            else:
                await self._to_bot(visitor, frame, text, message, paused)
            await self.hub.flush()  # this message's frames leave before the next message's (other workers)

    def _store_buyer(self, session: Session, visitor: Visitor, frame: MessageFrame,
                     text: str) -> tuple[dict[str, Any], bool, bool, bool] | None:
        conversation_id = visitor.conversation_id
        existing = store.find_by_client_id(session, conversation_id, frame.client_id)
        if existing is None:
            attachments: list[dict[str, Any]] = []
            if frame.attachments:
                assert visitor.buyer_id is not None
                owned = store.owned_attachments(session, visitor.buyer_id, frame.attachments)
                if owned is None:
                    return None
                attachments = owned
            store.ensure_conversation(session, conversation_id, visitor.channel, visitor.buyer_id, self.clock())
            try:
                existing = store.append(session, conversation_id, "buyer", self.clock(), text=text or None,
                                        attachments=attachments, client_id=frame.client_id,
                                        author_id=visitor.buyer_id)
                session.commit()
                created = True
            except IntegrityError:  # the same client_id through another socket, a moment ago
                session.rollback()
                existing = store.find_by_client_id(session, conversation_id, frame.client_id)
                assert existing is not None
                created = False
        else:
            created = False
        conversation = session.get(Conversation, conversation_id)
        with_agent = store.live_handoff(session, conversation_id) is not None
        return store.message_json(existing), created, with_agent, bool(conversation and conversation.bot_paused)

    def _publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        event = {"type": "message", "conversation_id": conversation_id, "message": message}
        for topic in message_topics(conversation_id):
            self.hub.publish(topic, event)

    async def _to_bot(self, visitor: Visitor, frame: MessageFrame, text: str, message: dict[str, Any],
                      paused: bool) -> None:
        conversation_id = visitor.conversation_id
        topic = conversation_topic(conversation_id)
        self.hub.publish(topic, {"type": "typing", "on": True, "conversation_id": conversation_id})
        metadata: dict[str, Any] = {"channel": visitor.channel,
                                    "attachments": [{"upload_id": a["upload_id"], "material": a["material"]}
                                                    for a in message["attachments"]]}
        if visitor.buyer_id is not None:
            metadata["buyer_id"] = visitor.buyer_id
        # Typed text never becomes a Rasa command; only a button's payload (validated) does. Files sent
        # without words are an answer (inform) whatever the NLU would make of an empty message.
        to_rasa = frame.payload or text.lstrip("/").strip() or "/inform"
        started = time.monotonic()
        try:
            if paused:
                await self.rasa.resume(conversation_id)
                await self._db(self._mark_resumed, conversation_id)
            replies = await self.rasa.send(conversation_id, to_rasa, metadata)
            if not replies:
                raise RasaUnavailable("no reply")
            metrics.observe_rasa(time.monotonic() - started, ok=True)
        except RasaUnavailable as exc:
            metrics.observe_rasa(time.monotonic() - started, ok=False)
            log.warning("assistant unavailable for %s: %s", conversation_id, exc)
            replies = [{"text": MSG_BOT_DOWN, "custom": {"type": "request_human"}, "_system": True}]
        finally:
            self.hub.publish(topic, {"type": "typing", "on": False, "conversation_id": conversation_id})
        rows = await self._db(self._store_replies, conversation_id, replies)
        for row in rows:
            self._publish(conversation_id, row)

    def _mark_resumed(self, session: Session, conversation_id: str) -> None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None and store.live_handoff(session, conversation_id) is None:
            conversation.bot_paused = False
            session.commit()

    def _store_replies(self, session: Session, conversation_id: str,
                       replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for reply in replies:
            author = "system" if reply.get("_system") else "bot"
            text = reply.get("text") if isinstance(reply.get("text"), str) else None
            buttons = [{"title": str(b.get("title", ""))[:200], "payload": str(b.get("payload", ""))[:500]}
                       for b in reply.get("buttons") or [] if isinstance(b, dict)]
            custom = reply.get("custom") if isinstance(reply.get("custom"), dict) else None
            if text is None and not buttons and custom is None:
                continue  # images, attachments: nothing our bot sends
            out.append(store.append(session, conversation_id, author, self.clock(), text=text, buttons=buttons,
                                    custom=custom))
        session.commit()
        return [store.message_json(row) for row in out]

    # -- asking for a person directly ----------------------------------------------------------

    async def request_human(self, visitor: Visitor) -> None:
        conversation_id = visitor.conversation_id
        bind_log_ids(conversation_id=conversation_id)
        async with self._lock(conversation_id):
            rows, opened = await self._db(self._open_handoff, visitor)
        for row in rows:
            self._publish(conversation_id, row)
        if opened:
            events.publish_mode(self.hub, conversation_id, "agent")

    def _open_handoff(self, session: Session, visitor: Visitor) -> tuple[list[dict[str, Any]], bool]:
        conversation_id = visitor.conversation_id
        now = self.clock()
        store.ensure_conversation(session, conversation_id, visitor.channel, visitor.buyer_id, now)
        recent = store.history(session, conversation_id, 0, SUMMARY_LINES)
        names = {"buyer": "买家", "bot": "助手", "agent": "客服", "system": "系统"}
        lines = [f"{names[m.author]}：{(m.text or '[附件]')[:200]}" for m in recent]
        summary = "买家在智能助手无法回复时请求人工客服。\n最近的对话：\n" + ("\n".join(lines) or "（无）")
        handoff, opened = events.open_handoff(
            session, conversation_id=conversation_id, channel=visitor.channel, buyer_id=visitor.buyer_id,
            case_id=None, reason=HandoffReason.REQUESTED.value, summary=summary[:4000], now=now)
        row = store.append(session, conversation_id, "system", now,
                           text=MSG_HUMAN_REQUESTED if opened else MSG_ALREADY_WITH_HUMAN)
        session.commit()
        return [store.message_json(row)], opened

