"""The WeChat API this channel calls: access tokens, customer-service messages, media downloads.

The access token lives in the database (`wechat_access_tokens`), one row per AppID, so every worker
uses the same one: WeChat invalidates the previous token a few minutes after a new one is fetched, so
workers refreshing on their own would keep knocking each other's tokens out. A worker refreshes only
after winning a compare-and-set on the row (`version` unchanged, no live lease); the others wait for
the new version. Within a worker an asyncio lock keeps concurrent callers to one refresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.channels.wechat.config import WechatAccount
from backend.db.models import WechatAccessToken

log = logging.getLogger("backend.channels.wechat")

# invalid credential / invalid access_token / access_token expired: refresh and try once more
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
POLL_SECONDS = 0.05


class WechatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class MediaTooLarge(Exception):
    pass


class TokenStore:
    """The shared token row of one AppID (every method is blocking: call it off the event loop)."""

    def __init__(self, session_factory: sessionmaker[Session], app_id: str) -> None:
        self.session_factory, self.app_id = session_factory, app_id

    def read(self, now: datetime) -> WechatAccessToken:
        with self.session_factory() as session:
            row = session.get(WechatAccessToken, self.app_id)
            if row is None:
                try:
                    session.add(WechatAccessToken(app_id=self.app_id, token=None, expires_at=None, version=0,
                                                  refreshing_until=None, updated_at=now))
                    session.commit()
                except IntegrityError:  # another worker made it a moment ago
                    session.rollback()
                row = session.get(WechatAccessToken, self.app_id, populate_existing=True)
                assert row is not None
            session.expunge(row)
            return row

    def claim(self, version: int, now: datetime, lease: float) -> bool:
        """Compare-and-set: the refresh is ours if nobody refreshed or holds a live lease since we read."""
        with self.session_factory() as session:
            taken = session.execute(
                update(WechatAccessToken)
                .where(WechatAccessToken.app_id == self.app_id, WechatAccessToken.version == version,
                       (WechatAccessToken.refreshing_until.is_(None)) | (WechatAccessToken.refreshing_until < now))
                .values(refreshing_until=now + timedelta(seconds=lease), updated_at=now)
            ).rowcount
            session.commit()
            return taken == 1

    def save(self, token: str, expires_at: datetime, now: datetime) -> None:
        with self.session_factory() as session:
            session.execute(update(WechatAccessToken).where(WechatAccessToken.app_id == self.app_id).values(
                token=token, expires_at=expires_at, version=WechatAccessToken.version + 1, refreshing_until=None,
                updated_at=now))
            session.commit()

    def release(self, now: datetime) -> None:
        with self.session_factory() as session:
            session.execute(update(WechatAccessToken).where(WechatAccessToken.app_id == self.app_id)
                            .values(refreshing_until=None, updated_at=now))
            session.commit()

    def invalidate(self, token: str, now: datetime) -> None:
        """WeChat refused this token: expire it, unless another worker has already replaced it."""
        with self.session_factory() as session:
            session.execute(update(WechatAccessToken).where(WechatAccessToken.app_id == self.app_id,
                                                            WechatAccessToken.token == token)
                            .values(expires_at=None, updated_at=now))
            session.commit()




class WechatApi:
    """One account's client. `http` is shared (base URL: the WeChat API, or a fake one in tests)."""

    def __init__(self, account: WechatAccount, http: httpx.AsyncClient, session_factory: sessionmaker[Session],
                 clock: Callable[[], datetime], *, margin_seconds: int, lease_seconds: float) -> None:
        self.account, self.http, self.clock = account, http, clock
        self.margin, self.lease = timedelta(seconds=margin_seconds), lease_seconds
        self.tokens = TokenStore(session_factory, account.app_id)
        self._lock = asyncio.Lock()

    # -- the access token ------------------------------------------------------------------------

    async def access_token(self) -> str:
        async with self._lock:
            waits = max(1, int(self.lease / POLL_SECONDS)) * 2
            for _ in range(waits):
                now = self.clock()
                row = await anyio.to_thread.run_sync(self.tokens.read, now)
                if row.token and row.expires_at is not None and row.expires_at - self.margin > now:
                    return row.token
                if await anyio.to_thread.run_sync(self.tokens.claim, row.version, now, self.lease):
                    try:
                        token, expires_in = await self._fetch_token()
                    except BaseException:
                        await anyio.to_thread.run_sync(self.tokens.release, self.clock())
                        raise
                    now = self.clock()
                    await anyio.to_thread.run_sync(self.tokens.save, token, now + timedelta(seconds=expires_in), now)
                    log.info("wechat %s: access token refreshed", self.account.app_id)
                    return token
                await asyncio.sleep(POLL_SECONDS)  # another worker is refreshing it
            raise WechatApiError(-1, "access token refresh did not finish in time")

    async def _fetch_token(self) -> tuple[str, int]:
        params = {"grant_type": "client_credential", "appid": self.account.app_id,
                  "secret": self.account.app_secret.get_secret_value()}
        body = await self._json(await self._request("GET", "/cgi-bin/token", params=params))
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise WechatApiError(int(body.get("errcode") or -1), str(body.get("errmsg") or "no access_token"))
        return token, expires_in

    # -- calls -----------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise WechatApiError(-1, f"{type(exc).__name__} calling {path}") from exc

    @staticmethod
    async def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise WechatApiError(-1, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise WechatApiError(-1, "not JSON") from exc
        if not isinstance(body, dict):
            raise WechatApiError(-1, "not a JSON object")
        return body

    async def _with_token(self, call: Callable[[str], Any]) -> Any:
        """Runs `call(token)`; once more with a fresh token if WeChat says the token is no good."""
        token = await self.access_token()
        try:
            return await call(token)
        except WechatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.warning("wechat %s: access token refused (%s); refreshing", self.account.app_id, exc.errcode)
            await anyio.to_thread.run_sync(self.tokens.invalidate, token, self.clock())
            return await call(await self.access_token())

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (客服消息). JSON with the characters themselves: WeChat shows
        \\uXXXX escapes literally."""
        data = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": text}},
                          ensure_ascii=False).encode("utf-8")

        async def call(token: str) -> None:
            response = await self._request("POST", "/cgi-bin/message/custom/send", params={"access_token": token},
                                           content=data, headers={"Content-Type": "application/json; charset=utf-8"})
            body = await self._json(response)
            if body.get("errcode", 0) != 0:
                raise WechatApiError(int(body["errcode"]), str(body.get("errmsg", "")))
        await self._with_token(call)

    async def download_media(self, media_id: str, limit: int) -> bytes:
        """A temporary media file (an image the buyer sent), at most `limit` bytes."""
        async def call(token: str) -> bytes:
            try:
                async with self.http.stream("GET", "/cgi-bin/media/get",
                                            params={"access_token": token, "media_id": media_id}) as response:
                    kind = response.headers.get("content-type", "")
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > limit:
                            raise MediaTooLarge(media_id)
            except httpx.HTTPError as exc:
                raise WechatApiError(-1, f"{type(exc).__name__} downloading media") from exc
            if response.status_code != 200:
                raise WechatApiError(-1, f"HTTP {response.status_code}")
            if "json" in kind or kind.startswith("text/"):  # an error is JSON, whatever the type says
                try:
                    body = json.loads(bytes(data))
                except ValueError as exc:
                    raise WechatApiError(-1, "media answer is text but not JSON") from exc
                raise WechatApiError(int(body.get("errcode") or -1), str(body.get("errmsg") or "no media"))
            return bytes(data)
        result: bytes = await self._with_token(call)
        return result
