"""The case backend application: `create_app()` wires settings, policy, database and routers."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text

from backend.api import errors
from backend.api.limits import BodyLimitMiddleware
from backend.api.routes import auth, cases, conversations, eligibility, handoffs, orders, stats, supervisor, uploads
from backend.api.routes import policy as policy_routes
from backend.api.security import SameOriginMiddleware, mount_web
from backend.cases.scheduler import SchedulerThread
from backend.db.session import make_engine, make_session_factory
from backend.gateway import push
from backend.gateway import routes as gateway_routes
from backend.gateway.hub import Hub
from backend.gateway.rasa import RasaPool
from backend.gateway.rate_limits import RateLimiter
from backend.gateway.redis_hub import RedisHub
from backend.gateway.relay import Relay
from backend.gateway.sharing import Sharing
from backend.observability import web as observability
from backend.policy.config import load_policy
from backend.settings import Settings, get_settings

API_PREFIX = "/api/v1"
log = logging.getLogger("backend")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def _start_sharing(app: FastAPI, settings: Settings) -> Sharing | None:
    """Production mode: join the other workers through Redis before taking any traffic."""
    if not settings.redis_url:
        return None
    shared = Sharing(settings.redis_url, app.state.hub, lock_seconds=2 * settings.rasa_timeout_seconds + 10,
                     prefix=settings.redis_prefix)
    await shared.start()
    app.state.upload_limiter = shared.limiter("uploads", settings.upload_burst, 600.0)
    return shared


def create_app(settings: Settings | None = None, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    settings = settings or get_settings()
    policy = load_policy(settings.policy_file)  # a bad policy file stops start-up here, loudly

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Handlers are sync (blocking DB calls run off the event loop, in anyio's thread pool).
        # Fewer threads than the default 40 keep the GIL and the connection pool from thrashing.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        settings.upload_dir.mkdir(parents=True, exist_ok=True)
        token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
        rasa = RasaPool(settings.rasa_urls, token, settings.rasa_timeout_seconds)
        shared = await _start_sharing(app, settings)
        app.state.relay = Relay(settings, app.state.session_factory, app.state.hub, clock, rasa,
                                locks=shared.locks if shared else None,
                                messages=shared.limiter("messages", settings.message_burst, 10.0) if shared else None)
        pusher = None
        if settings.push_enabled:
            pusher = asyncio.create_task(push.run(app.state.session_factory, app.state.hub, policy, clock,
                                                  settings.return_address, settings.push_interval_seconds))
        app.state.pusher = pusher  # for /readyz
        wechat = None
        if settings.wechat_accounts:  # the WeChat Official Account channel (docs/wechat.md)
            from backend.channels.wechat.app import start_channel
            wechat = await start_channel(app, settings, clock)
        scheduler = None
        if settings.scheduler_enabled:
            scheduler = SchedulerThread(app.state.session_factory, policy, clock, settings.scheduler_interval_seconds,
                                        holder=f"{socket.gethostname()}:{os.getpid()}")
            scheduler.start()
        app.state.scheduler = scheduler  # for /readyz
        try:
            yield
        finally:
            if pusher is not None:
                pusher.cancel()
            if scheduler is not None:
                scheduler.stop()
            if wechat is not None:
                await wechat.stop()
            await rasa.aclose()
            if shared is not None:
                await shared.stop()
            engine.dispose()

    app = FastAPI(
        title="售后助手 Case backend",
        version=policy.version,
        description="Orders, policy decisions, cases, evidence, deadlines and progress for the after-sales assistant.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.policy = policy
    app.state.clock = clock
    # With REDIS_URL (several workers) the hub, the limits and the locks are shared through Redis.
    app.state.hub = RedisHub(settings.redis_url, settings.redis_prefix) if settings.redis_url else Hub()
    app.state.upload_limiter = RateLimiter(settings.upload_burst, 600.0)
    errors.install(app)
    # Cookie-authenticated writes only from our own pages (the agent console): no cross-site requests.
    app.add_middleware(SameOriginMiddleware)

    # Oversized bodies are refused while they stream in (uploads get their own, larger limit).
    app.add_middleware(BodyLimitMiddleware, json_limit=settings.max_json_bytes,
                       upload_limit=settings.max_upload_bytes + 64 * 1024)
    # Request metrics and log ids around everything above; GET /metrics (docs/operations.md).
    observability.install(app)

    api = APIRouter(prefix=API_PREFIX)
    for module in (orders, eligibility, cases, uploads, handoffs, conversations, supervisor, stats, policy_routes, auth):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(gateway_routes.router)
    if settings.wechat_accounts:
        from backend.channels.wechat.app import router as wechat_router
        app.include_router(wechat_router)
    mount_web(app, demo=settings.app_env != "production")

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: database reachable, policy loaded")
    def readyz(request: Request) -> JSONResponse:
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse(status_code=503, content={"status": "database unavailable"})
        return JSONResponse({"status": "ready", "policy_version": policy.version,
                             **observability.readiness(request.app)})

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
