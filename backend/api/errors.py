"""One place that turns every failure into a 4xx (or, for bugs, a 500) with a Chinese message.

Validation errors never echo the offending input back: it may be huge or hostile.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.cases.lifecycle import TransitionRefused
from backend.errors import ServiceError
from backend.uploads.sniff import NotEvidence

log = logging.getLogger("backend.api")

MSG_INVALID = "请求内容不正确"
MSG_BAD_JSON = "请求体不是有效的 JSON"
MSG_BAD_UPLOAD = "上传内容格式不正确，请重新选择文件上传"
MSG_CONFLICT = "数据已被他人更新，请刷新后重试"
MSG_INTERNAL = "系统繁忙，请稍后再试"
HTTP_MESSAGES = {404: "请求的地址不存在", 405: "不支持该请求方法", 413: "请求内容过大", 401: "需要登录或提供服务令牌"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _error(status_code: int, detail: str, extra: dict[str, object] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": detail, **(extra or {})})


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status_code, exc.message, exc.extra)

    @app.exception_handler(TransitionRefused)
    async def _refused(_: Request, exc: TransitionRefused) -> JSONResponse:
        return _error(exc.status_code, exc.message)

    @app.exception_handler(NotEvidence)
    async def _not_evidence(_: Request, exc: NotEvidence) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(422, MSG_BAD_JSON)
        cleaned = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:200], "type": e.get("type")}
            for e in errors[:20]
        ]
        return _error(422, MSG_INVALID, {"errors": cleaned})

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return _error(409, MSG_CONFLICT)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", exc.orig)
        return _error(409, MSG_CONFLICT)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bad UTF-8, bad multipart, …
            multipart = request.headers.get("content-type", "").startswith("multipart/")
            return _error(422, MSG_BAD_UPLOAD if multipart else MSG_BAD_JSON)
        # Framework texts are English: show ours; keep a detail only when it is already Chinese.
        detail = exc.detail if isinstance(exc.detail, str) and _CJK.search(exc.detail) else None
        return _error(exc.status_code, detail or HTTP_MESSAGES.get(exc.status_code, MSG_INVALID))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, MSG_INTERNAL)
