"""Errors the service layer raises for the API to turn into 4xx answers with a Chinese message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, status_code: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.extra = extra or {}


MSG_ORDER_NOT_FOUND = "未找到该订单，请核对订单号"
MSG_CASE_NOT_FOUND = "未找到该售后单，请核对售后单号"
MSG_UPLOAD_NOT_FOUND = "凭证文件不存在或已失效，请重新上传"
