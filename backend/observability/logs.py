"""Structured logs that say which conversation and case a line is about, and never show a buyer's
phone number or address.

Standard library only: the action server (`actions/logcontext.py`) uses the same formatters and
redaction without importing FastAPI or the database layer.

- **Ids.** `conversation_id` and `case_id` live in context variables. The gateway binds the
  conversation (buyer socket, relay), the HTTP middleware (`backend.observability.web`) binds the
  case or conversation named in the path. Context variables follow an asyncio task and are copied
  into anyio's worker threads, so every line written while handling them carries the ids.
- **Formats.** `LOG_FORMAT=json`: one JSON object per line (`ts`, `level`, `logger`, `message`,
  `conversation_id`, `case_id`, `exc`) for a log shipper. `text` (the default): one readable line
  with the ids in brackets.
- **Redaction.** Every formatted line, message and traceback alike, goes through `redact()`: mobile
  and landline numbers are masked (138****5678), addresses replaced by [地址已隐藏]. Logs are kept
  longer and read by more people than the database, and the buyer never agreed to either.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import Any, Literal

LogFormat = Literal["text", "json"]

conversation_id_var: ContextVar[str | None] = ContextVar("conversation_id", default=None)
case_id_var: ContextVar[str | None] = ContextVar("case_id", default=None)
_VARS: dict[str, ContextVar[str | None]] = {"conversation_id": conversation_id_var, "case_id": case_id_var}


# -- ids ------------------------------------------------------------------------------------------

def bind(*, conversation_id: str | None = None, case_id: str | None = None) -> None:
    """Set the ids for the rest of the current context. For code whose whole task is about one
    conversation (a buyer's socket, one relayed message); elsewhere prefer `log_context`."""
    if conversation_id is not None:
        conversation_id_var.set(conversation_id)
    if case_id is not None:
        case_id_var.set(case_id)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Set ids (`conversation_id=`, `case_id=`) for a block and restore the previous ones after it."""
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = []
    for name, value in ids.items():
        var = _VARS[name]  # KeyError for an unknown id: a typo must not pass silently
        tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_ids() -> dict[str, str]:
    """The ids bound in the current context (only those that are set)."""
    return {name: value for name, var in _VARS.items() if (value := var.get()) is not None}


def _record_ids(record: logging.LogRecord) -> dict[str, str]:
    """Ids given with `extra=` win over the context (a background job logging about a case)."""
    ids = current_ids()
    for name in _VARS:
        value = getattr(record, name, None)
        if value is not None:
            ids[name] = str(value)
    return ids


# -- redaction ------------------------------------------------------------------------------------

MASK_ADDRESS = "[地址已隐藏]"
_C = "\u4e00-\u9fff"  # CJK unified ideographs
_SEP = r"[ \t-]?"
_NUM = "[0-9０-９一二三四五六七八九十百零]+"

# Mainland mobile numbers, with +86/0086 and spaces or dashes (138 1234 5678, 138-1234-5678). Digits
# must not continue on either side: order numbers (16 digits), tracking numbers and timestamps are
# longer runs and stay intact.
MOBILE_RE = re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)")
# Landlines: area code 0xx/0xxx (optionally in brackets), then 7-8 digits (0571-88886666). Letters or
# digits around it mean an identifier (an upload id, a hash), which is left alone.
LANDLINE_RE = re.compile(r"(?<![0-9A-Za-z_-])\(?(0\d{2,3})\)?[ \t-]?(\d{3,4})[ \t-]?(\d{4})(?![0-9A-Za-z_-])")
# A value of an address field: `"return_address": "…"`, `address=…`, `收货地址：…` (unquoted: up to a
# separator or the next label such as 电话, which the phone patterns then handle).
ADDRESS_FIELD_RE = re.compile(
    r"""(?P<key>["']?(?:[A-Za-z_]*address|addr)["']?\s*[:=]\s*|(?:收货|收件|寄件|退货|详细|联系|家庭|住址)?地址\s*[:：=]\s*)"""
    r"""(?:(?P<done>\[地址已隐藏\])|(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)"""
    r"""|(?P<bare>(?:(?!\s*(?:电话|手机|收件人|联系人|姓名|tel|phone|mobile))[^,;，；}\]\n])+))""",
    re.IGNORECASE,
)
# Free text that looks like a Chinese street address: optional administrative divisions (省/市/区/县…),
# a street or compound (路/街/巷/弄/小区…), a number with 号/栋/弄…, then building, unit and room.
# Pragmatic by design: it may take a few words before the street with it, which is the safe side.
# Bounded repetitions and a possessive group keep it linear on long texts without addresses.
_DIVISIONS = rf"(?:[{_C}]{{1,8}}?(?:省|自治区|特别行政区|市|自治州|州|盟|(?<![小社园])区|县|旗|镇|乡)[ \t]?){{0,4}}+"
_STREET = rf"[{_C}A-Za-z]{{0,10}}?(?:路|街|道|巷|弄|胡同|村|小区|花园|公寓|大厦|广场|苑|社区|新村|家园)"
_UNIT = (rf"(?:[ \t]?[-#]?{_NUM}[ \t]?(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|户|弄)){{0,5}}"
         rf"(?:[ \t]?[-#]?\d{{1,5}}(?!\d))?")
STREET_ADDRESS_RE = re.compile(rf"{_DIVISIONS}{_STREET}[ \t]?{_NUM}[ \t]?(?:号|弄|栋|幢|座|号楼|号院){_UNIT}")
# Province + city (+ district), or city + district, without a street: 浙江省杭州市余杭区, 北京市朝阳区.
REGION_RE = re.compile(
    rf"[{_C}]{{2,6}}?(?:省|自治区)[{_C}]{{2,8}}?(?:市|自治州|州|盟)(?:[{_C}]{{1,8}}?(?:区|县|旗|市))?"
    rf"|[{_C}]{{2,6}}?市[{_C}]{{1,6}}?(?:区|县)"
)


def _mask_mobile(match: re.Match[str]) -> str:
    return f"{match.group(1)}****{match.group(3)}"


def _mask_landline(match: re.Match[str]) -> str:
    return f"{match.group(1)}-****{match.group(3)}"


def _mask_field(match: re.Match[str]) -> str:
    if match.group("done"):  # already redacted (the filter ran before the formatter)
        return match.group(0)
    quote = match.group("q")
    return f"{match.group('key')}{quote}{MASK_ADDRESS}{quote}" if quote else f"{match.group('key')}{MASK_ADDRESS}"


def redact(text: str) -> str:
    """`text` without phone numbers and addresses. Idempotent, so a line may pass more than once."""
    if not text:
        return text
    text = ADDRESS_FIELD_RE.sub(_mask_field, text)
    text = STREET_ADDRESS_RE.sub(MASK_ADDRESS, text)
    text = REGION_RE.sub(MASK_ADDRESS, text)
    text = MOBILE_RE.sub(_mask_mobile, text)
    return LANDLINE_RE.sub(_mask_landline, text)


class RedactionFilter(logging.Filter):
    """Redacts a record before any handler sees it and attaches the context's ids as attributes.

    Our formatters redact their output again; this filter is what protects handlers with a formatter
    of someone else's (a library's, a test's capture), so it is installed on every handler we configure.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# -- formatters -----------------------------------------------------------------------------------

class TextFormatter(logging.Formatter):
    """`2026-11-20 10:00:00,123 INFO    backend.gateway [conversation_id=web:b_1001 case_id=AS…] message`."""

    def format(self, record: logging.LogRecord) -> str:
        ids = _record_ids(record)
        tag = f"[{' '.join(f'{k}={v}' for k, v in ids.items())}] " if ids else ""
        line = f"{self.formatTime(record)} {record.levelname:<7} {record.name} {tag}{record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; Chinese kept readable (UTF-8), ids only when known."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        doc: dict[str, Any] = {"ts": ts.replace("+00:00", "Z"), "level": record.levelname, "logger": record.name,
                               "message": redact(record.getMessage())}
        doc.update(_record_ids(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = redact(record.exc_text)
        if record.stack_info:
            doc["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


def make_formatter(fmt: LogFormat = "text") -> logging.Formatter:
    if fmt not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


# -- configuration --------------------------------------------------------------------------------

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def logging_config(fmt: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: one stderr handler with our formatter and the redaction
    filter on the root logger, and uvicorn's loggers sent there too (uvicorn's own config gives them
    handlers of their own that would print unredacted lines without ids). Usable as uvicorn's `log_config`."""
    formatter = f"backend.observability.logs.{'JsonFormatter' if fmt == 'json' else 'TextFormatter'}"
    make_formatter(fmt)  # validates fmt
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": formatter}},
        "filters": {"redact": {"()": "backend.observability.logs.RedactionFilter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "default", "filters": ["redact"]}},
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level.upper()} for name in UVICORN_LOGGERS},
    }


def configure_logging(fmt: LogFormat | None = None, level: str | None = None) -> None:
    """Configure the process's logging; `fmt`/`level` default to LOG_FORMAT / LOG_LEVEL (text, INFO)."""
    fmt = fmt or os.environ.get("LOG_FORMAT", "text").strip().lower()  # type: ignore[assignment]
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    logging.config.dictConfig(logging_config(fmt, level))  # type: ignore[arg-type]
