"""Browser-facing protections: same-origin writes for cookie sessions, and the static pages with
headers that keep injected markup inert."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.deps import SESSION_COOKIE
from backend.settings import PROJECT_ROOT

WEB_ROOT = PROJECT_ROOT / "web"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MSG_CROSS_SITE = "跨站请求被拒绝"
PAGE_HEADERS = {
    "content-security-policy": ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
                                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SameOriginMiddleware:
    """A request that carries the agent cookie and changes something must come from our own origin.

    SameSite=Strict already keeps the cookie off cross-site requests; this is the second lock, for
    browsers or proxies that get SameSite wrong.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if f"{SESSION_COOKIE}=" in headers.get("cookie", "") and not _same_origin(headers):
                body = json.dumps({"detail": MSG_CROSS_SITE}, ensure_ascii=False).encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _same_origin(headers: dict[str, str]) -> bool:
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is None:  # not a browser (curl, the tests' HTTP client): the cookie is the whole story
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class PageFiles(StaticFiles):
    """Static pages with a strict content security policy: even if markup got into the DOM, no
    script of anyone else's would run."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
            await send(message)
        await super().__call__(scope, receive, with_headers)


def mount_web(app: FastAPI, *, demo: bool) -> None:
    """The widget (embedded by shops, so no page headers of ours), the console, the supervisors' statistics
    page, and the demo shop."""
    pages = [("console", PageFiles), ("stats", PageFiles)] + ([("shop", PageFiles)] if demo else [])
    if (WEB_ROOT / "widget").is_dir():
        app.mount("/widget", StaticFiles(directory=WEB_ROOT / "widget"), name="widget")
    for name, files in pages:
        if not (WEB_ROOT / name).is_dir():
            continue
        app.mount(f"/{name}/", files(directory=WEB_ROOT / name, html=True), name=name)

        def redirect(target: str = f"/{name}/") -> RedirectResponse:
            return RedirectResponse(target)
        app.add_api_route(f"/{name}", redirect, include_in_schema=False)
