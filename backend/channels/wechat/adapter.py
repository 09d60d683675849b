"""The WeChat channel adapter: incoming messages into the gateway, logged messages out through the
customer-service message API (客服消息).

The webhook (routes.py) has already verified, parsed and claimed each message before it hands it to
`spawn`, and has answered WeChat "success": everything here runs after the answer, so a slow bot or
a slow media download never breaks WeChat's 5-second rule.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.channels.wechat import binding, render
from backend.channels.wechat.api import MediaTooLarge, WechatApi, WechatApiError
from backend.channels.wechat.messages import Inbound
from backend.db.models import WechatUser
from backend.gateway import events, store
from backend.gateway.channels import ChannelAdapter
from backend.gateway.hub import Hub, channel_topic
from backend.gateway.relay import FrameError, RateLimiter, Relay
from backend.schemas.conversations import AttachmentIn
from backend.settings import Settings
from backend.uploads.sniff import NotEvidence
from backend.uploads.storage import store as store_upload

log = logging.getLogger("backend.channels.wechat")

MSG_WELCOME = "您好，欢迎关注！我是售后助手，可以帮您申请退货、换货、维修，补充凭证，查询售后进度。有问题直接发消息给我就行。"
MSG_BIND_FOR_PHOTOS = "发送照片前请先绑定订单：发送「绑定 订单号 收货手机号后四位」，例如：绑定 2026111812345678 1234"
MSG_VOICE_UNCLEAR = "抱歉，没有听清您的语音，请再说一遍或直接发送文字。"
MSG_PHOTO_FAILED = "图片没有接收成功，请重新发送。"
MSG_PHOTO_TOO_LARGE = "图片太大了，请压缩后重新发送。"
MSG_TOO_MANY_UPLOADS = "上传太频繁了，请稍后再试"
MARKER = "_idle_marker"
_PAYLOAD = re.compile(r"^/[a-z_]+(/[a-z_]+)?(\{.*\})?$")


def conversation_of(openid: str) -> str:
    return f"{WechatAdapter.name}:{openid}"


class WechatAdapter(ChannelAdapter):
    name = "wechat"

    def __init__(self, relay: Relay, hub: Hub, *, settings: Settings, session_factory: sessionmaker[Session],
                 clock: Callable[[], datetime], apis: dict[str, WechatApi], upload_limiter: Callable[[], RateLimiter],
                 http: httpx.AsyncClient) -> None:
        super().__init__(relay, hub)
        self.settings, self.session_factory, self.clock, self.apis = settings, session_factory, clock, apis
        self.upload_limiter, self.http = upload_limiter, http
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._markers: dict[str, asyncio.Event] = {}

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with self.session_factory() as session:
                return fn(session, *args)
        return await anyio.to_thread.run_sync(run)

    # -- out: every bot, agent and system message of a wechat conversation --------------------------

    async def deliver(self, user: str, message: dict[str, Any]) -> None:
        if MARKER in message:
            marker = self._markers.get(message[MARKER])
            if marker is not None:
                marker.set()
            return
        row: WechatUser | None = await self._db(lambda s: s.get(WechatUser, user))
        api = self.apis.get(row.account) if row is not None else None
        if row is None or api is None:
            log.warning("wechat: no account for openid %s; message %s not sent", user, message.get("seq"))
            return
        text = render.render(message, bound=row.buyer_id is not None)
        for piece in render.split(text, self.settings.wechat_text_max_bytes):
            try:
                await api.send_text(user, piece)
            except WechatApiError as exc:  # 45015: the user has not written for 48 hours, and the like
                log.warning("wechat %s: message %s to %s not sent: %s", row.account, message.get("seq"), user, exc)
                return

    async def _direct(self, account: str, openid: str, text: str) -> None:
        """A reply that is not part of the log (an error about the buyer's own message)."""
        try:
            await self.apis[account].send_text(openid, text)
        except WechatApiError as exc:
            log.warning("wechat %s: notice to %s not sent: %s", account, openid, exc)

    # -- in ---------------------------------------------------------------------------------------

    def spawn(self, account: str, message: Inbound) -> None:
        """Handles a verified, claimed message in the background (the webhook has already answered)."""
        task = asyncio.create_task(self.handle(account, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self, timeout: float = 10.0) -> None:
        """Waits until the messages being handled are handled and everything published so far for the
        channel is delivered (a marker sent through the hub after it comes out of `run`). For a graceful
        stop, and for tests."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        key = uuid.uuid4().hex
        self._markers[key] = reached = asyncio.Event()
        self.hub.publish(channel_topic(self.name), {"type": "message", "conversation_id": f"{self.name}:-",
                                                    "message": {"author": "system", MARKER: key}})
        try:
            await asyncio.wait_for(reached.wait(), timeout)
        finally:
            self._markers.pop(key, None)

    def _lock(self, openid: str) -> asyncio.Lock:
        lock = self._locks.get(openid)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[openid] = lock
        return lock

    async def handle(self, account: str, message: Inbound) -> None:
        async with self._lock(message.openid):  # one user's messages in the order they came
            try:
                await self._handle(account, message)
            except Exception:  # one bad message must not take the channel down
                log.exception("wechat %s: message %s from %s failed", account, message.key, message.openid)

    async def _handle(self, account: str, message: Inbound) -> None:
        def touch(session: Session) -> str | None:
            row = binding.touch(session, account, message.openid, self.clock())
            session.commit()
            return row.buyer_id
        buyer_id: str | None = await self._db(touch)
        kind = message.msg_type
        if kind == "text":
            await self._text(account, message, buyer_id, message.content.strip())
        elif kind == "voice":
            heard = message.recognition.strip()
            if heard:
                await self._text(account, message, buyer_id, heard)
            else:
                await self._system(message.openid, buyer_id, MSG_VOICE_UNCLEAR, message.client_id)
        elif kind == "image":
            await self._image(account, message, buyer_id)
        elif kind == "event":
            await self._event(account, message, buyer_id)
        else:
            log.info("wechat %s: %s message from %s ignored", account, kind, message.openid)

    async def _text(self, account: str, message: Inbound, buyer_id: str | None, text: str) -> None:
        command = binding.command(text)
        if command is not None:
            await self._bind(account, message, command)
            return
        number = render.choice(text)
        if number is not None:
            chosen = await self._db(self._option, conversation_of(message.openid), number)
            if chosen is not None:
                if chosen.payload == render.HUMAN:
                    await self.request_human(message.openid, buyer_id=buyer_id)
                else:
                    await self._receive(account, message, buyer_id, text=chosen.title, payload=chosen.payload)
                return
        await self._receive(account, message, buyer_id, text=text)

    @staticmethod
    def _option(session: Session, conversation_id: str, number: int) -> render.Option | None:
        if store.live_handoff(session, conversation_id) is not None:
            return None  # a person has the conversation: digits are just words to them
        offered = render.offered(session, conversation_id)
        return offered[number - 1] if number <= len(offered) else None

    async def _receive(self, account: str, message: Inbound, buyer_id: str | None, *, text: str = "",
                       payload: str | None = None, attachments: list[AttachmentIn] | None = None) -> None:
        try:
            await self.receive(message.openid, buyer_id=buyer_id, message_id=message.client_id, text=text,
                               payload=payload, attachments=attachments)
        except FrameError as exc:  # too long, too fast…: tell the sender, as the widget would
            await self._direct(account, message.openid, exc.message)

    async def _system(self, openid: str, buyer_id: str | None, text: str, client_id: str) -> None:
        """A logged system message to the user (delivered by `run` like every other), once per client_id."""
        conversation_id = conversation_of(openid)

        def write(session: Session) -> Any:
            now = self.clock()
            store.ensure_conversation(session, conversation_id, self.name, buyer_id, now)
            try:
                row = store.append(session, conversation_id, "system", now, text=text, client_id=client_id)
                session.commit()
            except IntegrityError:
                session.rollback()
                return None
            return row
        row = await self._db(write)
        events.publish_message(self.hub, conversation_id, row)

    async def _bind(self, account: str, message: Inbound, command: binding.Command) -> None:
        conversation_id = conversation_of(message.openid)
        settings = self.settings

        def run(session: Session) -> tuple[list[Any], binding.Outcome | None]:
            now = self.clock()
            user = binding.touch(session, account, message.openid, now)
            if isinstance(command, binding.Bind):
                outcome: binding.Outcome | None = binding.bind(
                    session, user, command, now, max_failures=settings.wechat_bind_max_failures,
                    order_max_failures=settings.wechat_bind_order_max_failures,
                    window_minutes=settings.wechat_bind_window_minutes)
                said, answer = binding.redacted(command), outcome.text  # type: ignore[union-attr]
            elif isinstance(command, binding.Unbind):
                outcome = binding.unbind(session, user, now)
                said, answer = "解绑", outcome.text
            else:
                outcome, said, answer = None, "绑定", binding.BIND_USAGE
            store.ensure_conversation(session, conversation_id, self.name, user.buyer_id, now)
            try:
                rows = [store.append(session, conversation_id, "buyer", now, text=said, client_id=message.client_id,
                                     author_id=user.buyer_id),
                        store.append(session, conversation_id, "system", now, text=answer,
                                     client_id=f"{message.client_id}-r")]
                session.commit()
            except IntegrityError:  # handled before (the webhook's claim makes this rare)
                session.rollback()
                return [], None
            return rows, outcome
        rows, outcome = await self._db(run)
        for row in rows:
            events.publish_message(self.hub, conversation_id, row)
        if outcome is not None and outcome.previous is not None and outcome.previous != outcome.buyer_id:
            await self._tell_bot(conversation_id, outcome.buyer_id)

    async def _tell_bot(self, conversation_id: str, buyer_id: str | None) -> None:
        """A bot that already knew this user as another buyer forgets it (its `buyer_id` slot)."""
        token = self.settings.rasa_token.get_secret_value() if self.settings.rasa_token else None
        url = f"{self.settings.rasa_url.rstrip('/')}/conversations/{conversation_id}/tracker/events"
        try:
            response = await self.http.post(url, params={"token": token} if token else {},
                                            json=[{"event": "slot", "name": "buyer_id", "value": buyer_id}])
            if response.status_code != 200:
                log.warning("wechat: could not update the bot's buyer for %s: HTTP %s", conversation_id,
                            response.status_code)
        except httpx.HTTPError as exc:
            log.warning("wechat: could not update the bot's buyer for %s: %s", conversation_id, type(exc).__name__)

    async def _image(self, account: str, message: Inbound, buyer_id: str | None) -> None:
        if buyer_id is None:
            await self._system(message.openid, None, MSG_BIND_FOR_PHOTOS, message.client_id)
            return
        if not message.media_id:
            log.warning("wechat %s: image %s without MediaId", account, message.key)
            return
        if not self.upload_limiter().allow(buyer_id):  # the same allowance as the widget's uploads
            await self._direct(account, message.openid, MSG_TOO_MANY_UPLOADS)
            return
        try:
            data = await self.apis[account].download_media(message.media_id, self.settings.max_upload_bytes)
        except MediaTooLarge:
            await self._direct(account, message.openid, MSG_PHOTO_TOO_LARGE)
            return
        except WechatApiError as exc:
            log.warning("wechat %s: media of %s not fetched: %s", account, message.key, exc)
            await self._direct(account, message.openid, MSG_PHOTO_FAILED)
            return

        def keep(session: Session) -> str:
            upload = store_upload(session, self.settings.upload_dir, data, client_name=f"wechat-{message.msg_id}",
                                  buyer_id=buyer_id, max_pixels=self.settings.max_image_pixels, now=self.clock())
            session.commit()
            return upload.upload_id
        try:
            upload_id = await self._db(keep)
        except NotEvidence as exc:  # the same content checks as the widget's uploads
            await self._direct(account, message.openid, str(exc))
            return
        await self._receive(account, message, buyer_id, attachments=[AttachmentIn(upload_id=upload_id)])

    async def _event(self, account: str, message: Inbound, buyer_id: str | None) -> None:
        event = message.event.lower()
        if event == "subscribe":
            text = MSG_WELCOME if buyer_id else f"{MSG_WELCOME}\n\n{binding.BIND_HINT}"
            await self._system(message.openid, buyer_id, text, message.client_id)
        elif event == "click":
            said = self.settings.wechat_menu.get(message.event_key)
            if said is None:
                log.info("wechat %s: menu key %r is not configured; ignored", account, message.event_key[:64])
                return
            if _PAYLOAD.match(said):
                await self._receive(account, message, buyer_id, text=said, payload=said)
            else:
                await self._receive(account, message, buyer_id, text=said)
        else:  # unsubscribe, VIEW, LOCATION, SCAN…: nothing to answer
            log.info("wechat %s: event %s from %s ignored", account, message.event[:32], message.openid)
