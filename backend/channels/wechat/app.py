"""Wiring into the backend (backend/main.py): the webhook router, and in the lifespan the adapter
with one API client per account and the task that delivers the channel's messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

import httpx
from fastapi import FastAPI

from backend.channels.wechat.adapter import WechatAdapter
from backend.channels.wechat.api import WechatApi
from backend.channels.wechat.routes import router
from backend.settings import Settings

__all__ = ["Channel", "router", "start_channel"]


class Channel:
    def __init__(self, adapter: WechatAdapter, task: asyncio.Task[None], http: httpx.AsyncClient) -> None:
        self.adapter, self.task, self.http = adapter, task, http

    async def stop(self) -> None:
        with suppress(Exception):  # what was already said still goes out, if WeChat answers in time
            await self.adapter.idle(timeout=5.0)
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task
        await self.adapter.close()
        await self.http.aclose()


async def start_channel(app: FastAPI, settings: Settings, clock: Callable[[], datetime]) -> Channel:
    http = httpx.AsyncClient(base_url=settings.wechat_api_base.rstrip("/"), timeout=settings.wechat_api_timeout_seconds)
    apis = {name: WechatApi(account, http, app.state.session_factory, clock,
                            margin_seconds=settings.wechat_token_margin_seconds,
                            lease_seconds=settings.wechat_token_lease_seconds)
            for name, account in settings.wechat_accounts.items()}
    adapter = WechatAdapter(app.state.relay, app.state.hub, settings=settings, session_factory=app.state.session_factory,
                            clock=clock, apis=apis, upload_limiter=lambda: app.state.upload_limiter, http=http)
    app.state.wechat = adapter
    return Channel(adapter, asyncio.create_task(adapter.run()), http)
