"""The ASGI side of observability: one middleware (request metrics + log ids), GET /metrics, and the
extra state /readyz reports. `install(app)` wires the first two into an app.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.observability import metrics
from backend.observability.logs import case_id_var, conversation_id_var

UNMATCHED = "unmatched"
MSG_METRICS_TOKEN = "需要有效的监控令牌"
# Paths that name one case or one conversation: every log line while handling them carries the id.
# Taken from the raw path before routing, so lines written by auth and validation carry it too.
_PATH_IDS = (
    (re.compile(r"^/api/v1/cases/(?P<id>[^/]+)"), case_id_var),
    (re.compile(r"^/api/v1/conversations/(?P<id>[^/]+)"), conversation_id_var),
)


def _declared_template(scope: Scope) -> str | None:
    """The template of the route routing picked, when routing ran. FastAPI ≥ 0.137 keeps the path with
    the include_router() prefixes in its effective route context, while scope["route"] holds the route
    without them (fastapi/fastapi#16051), so the context comes first."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template:
        return str(template)
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return str(template) if template else None


def _matched_template(scope: Scope) -> str | None:
    """Routing by hand, for requests answered before routing (a 413 of the body limit, a cross-site
    403) and for static mounts, which leave no route in the scope."""
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", None)
    if not routes:
        return None
    try:  # FastAPI's view of included routers, with their prefixes
        from fastapi.routing import iter_route_contexts
        candidates: list[Any] = list(iter_route_contexts(routes))
    except ImportError:  # pragma: no cover - older FastAPI: routes are flat already
        candidates = list(routes)
    partial = None
    for candidate in candidates:
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(getattr(candidate, "path_format", None) or UNMATCHED)
        if match == Match.PARTIAL and partial is None:  # the path is known, the method is not allowed
            partial = str(getattr(candidate, "path_format", None) or UNMATCHED)
    return partial


def route_template(scope: Scope, request: Scope | None = None) -> str:
    """The template of the route that handled the request (`/api/v1/cases/{case_id}`, `/shop/{path}`),
    never the raw path: ids in labels would make one time series per case. Anything no route knows
    is "unmatched". `request` is the scope as it came in: a mount rewrites path and root_path in place."""
    return _declared_template(scope) or _matched_template(request or scope) or UNMATCHED


class ObservabilityMiddleware:
    """Times and counts every HTTP request by route template, and binds the case or conversation a
    path names for the log lines written while handling it.

    Pure ASGI on purpose: BaseHTTPMiddleware runs the app in another task, where the context
    variables set here (and by the handlers) would not be the ones the log lines see.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        tokens = []
        for pattern, var in _PATH_IDS:
            found = pattern.match(scope.get("path", ""))
            tokens.append((var, var.set(found.group("id") if found else None)))
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send)
        finally:
            for var, token in reversed(tokens):
                var.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # an exception escaping the app becomes a 500 (Starlette's outermost middleware)
        route: str | None = None
        request = {key: scope[key] for key in ("type", "path", "root_path", "method", "app") if key in scope}
        started = time.perf_counter()

        async def record_status(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                # Read while the handler runs: FastAPI may restore its routing state once it returns.
                status, route = int(message["status"]), route_template(scope, request)
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            metrics.observe_http(scope["method"], route or route_template(scope, request), status,
                                 time.perf_counter() - started)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def get_metrics(request: Request) -> Response:
    """Prometheus exposition. With METRICS_TOKEN set, only for `Authorization: Bearer <token>`.
    Sync on purpose: the business gauges query the database (run in the worker thread pool)."""
    settings = request.app.state.settings
    expected = getattr(settings, "metrics_token", None)
    if expected is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 expected.get_secret_value().encode()):
            return JSONResponse({"detail": MSG_METRICS_TOKEN}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
    collector = metrics.BusinessCollector(request.app.state.session_factory, request.app.state.clock)
    body, content_type = metrics.render(collector)
    return Response(body, media_type=content_type)


def install(app: FastAPI) -> None:
    """Add the middleware (outermost of those added so far: call it after the others) and /metrics."""
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(router)


def readiness(app: FastAPI) -> dict[str, Any]:
    """Cheap in-process state for /readyz: is the deadline scheduler thread alive, is the push loop
    running. Informational: a worker whose scheduler died still serves (another worker sweeps)."""
    settings = app.state.settings
    state: dict[str, Any] = {}
    scheduler = getattr(app.state, "scheduler", None)
    if not settings.scheduler_enabled:
        state["scheduler"] = "disabled"
    elif scheduler is not None:
        state["scheduler"] = "running" if scheduler.is_alive() else "stopped"
    pusher = getattr(app.state, "pusher", None)
    if not settings.push_enabled:
        state["push"] = "disabled"
    elif pusher is not None:
        state["push"] = "stopped" if pusher.done() else "running"
    hub = app.state.hub
    if hasattr(hub, "connected"):  # the Redis hub of several workers: are we hearing the others?
        state["hub"] = "redis connected" if hub.connected else "redis disconnected"
    return state
