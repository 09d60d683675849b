"""Structured logs: one JSON object per line with the conversation and case ids, the same ids in the
text format, and no buyer phone number or address in any line (backend and action server)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from backend.api.routes import cases as case_routes
from backend.gateway import tokens
from backend.observability.logs import (
    MASK_ADDRESS,
    JsonFormatter,
    RedactionFilter,
    TextFormatter,
    log_context,
    redact,
)
from tests.gateway.helpers import Socket
from tests.support.api import Api

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13812345678"
ADDRESS = "浙江省杭州市余杭区文一西路969号3幢2单元501室"


class Lines:
    """A handler on the root logger, formatting as production does, that keeps what it wrote."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RedactionFilter())

    def text(self) -> str:
        return self.stream.getvalue()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    lines = Lines(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(lines.handler)
    try:
        yield lines
    finally:
        root.removeHandler(lines.handler)


def test_a_json_line_carries_the_ids_and_hides_the_phone_and_the_address(json_lines: Lines) -> None:
    with log_context(conversation_id="web:b_1001", case_id="AS2611200000001"):
        logging.getLogger("backend.test").warning("买家 %s 要求寄到 %s，订单2026111812345678", PHONE, ADDRESS)
    logging.getLogger("backend.test").warning("after the block")
    first, second = json_lines.json()
    assert set(first) == {"ts", "level", "logger", "message", "conversation_id", "case_id"}
    assert first["level"] == "WARNING" and first["logger"] == "backend.test"
    assert first["ts"].endswith("Z")
    assert first["conversation_id"] == "web:b_1001" and first["case_id"] == "AS2611200000001"
    assert PHONE not in json_lines.text() and "文一西路" not in json_lines.text()
    assert first["message"] == f"买家 138****5678 要求寄到 {MASK_ADDRESS}，订单2026111812345678"
    assert "conversation_id" not in second and "case_id" not in second  # the ids end with the block


def test_the_text_format_shows_the_ids_too() -> None:
    record = logging.LogRecord("backend.gateway", logging.INFO, __file__, 1, "电话 %s", (PHONE,), None)
    with log_context(conversation_id="web:b_1001"):
        line = TextFormatter().format(record)
    assert "INFO" in line and "backend.gateway [conversation_id=web:b_1001] 电话 138****5678" in line


def test_tracebacks_and_extra_ids_are_handled(json_lines: Lines) -> None:
    try:
        raise ValueError(f"bad phone {PHONE} at {ADDRESS}")
    except ValueError:
        logging.getLogger("backend.test").exception("failed", extra={"case_id": "AS2611200000002"})
    (line,) = json_lines.json()
    assert line["case_id"] == "AS2611200000002"
    assert "ValueError" in line["exc"] and PHONE not in line["exc"] and "138****5678" in line["exc"]


def test_the_filter_protects_handlers_with_a_foreign_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactionFilter())
    logger = logging.getLogger("tests.ops.foreign")
    logger.addHandler(handler)
    try:
        logger.warning("收货地址：%s 电话 %s", ADDRESS, "138 1234 5678")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"WARNING 收货地址：{MASK_ADDRESS} 电话 138****5678\n"


@pytest.mark.parametrize(("raw", "redacted"), [
    ("13812345678", "138****5678"),
    ("138 1234 5678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("+86 139 1234 5678", "139****5678"),
    ("电话：0571-88886666", "电话：0571-****6666"),
    ("(010)12345678", "010-****5678"),
    ("{'return_address': '北京市朝阳区建国路88号', 'order_id': '2026111812345678'}",
     f"{{'return_address': '{MASK_ADDRESS}', 'order_id': '2026111812345678'}}"),
    ('{"address": "上海市黄浦区南京东路100号"}', f'{{"address": "{MASK_ADDRESS}"}}'),
    ("address=幸福小区3栋2单元501", f"address={MASK_ADDRESS}"),
    ("寄到 广东省深圳市南山区科技园南区高新南一道8号 谢谢", f"寄到 {MASK_ADDRESS} 谢谢"),
    ("我住幸福小区3栋2单元501室，放门口", f"{MASK_ADDRESS}，放门口"),
    ("浙江省杭州市余杭区", MASK_ADDRESS),
])
def test_phone_numbers_and_addresses_are_redacted(raw: str, redacted: str) -> None:
    assert redact(raw) == redacted
    assert redact(redacted) == redacted  # a line may pass the filter and the formatter


@pytest.mark.parametrize("kept", [
    "订单2026111812345678 售后单AS2611220123456 运单SF1234567890123",
    "up_0a1b2c3d4e5f60718293a4b5c6d7e8f9 时间戳 1731234567890 金额 299.00",
    "3号发货，这里5号到货，知道了", "127.0.0.1:54321 GET /api/v1/cases/AS2611220123456 200",
])
def test_ids_amounts_and_dates_are_not_mistaken_for_personal_data(kept: str) -> None:
    assert redact(kept) == kept


def test_every_line_while_handling_a_case_route_carries_the_case_id(api: Api, json_lines: Lines,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    api.order()
    case_id = api.file().json()["case_id"]
    original = case_routes.return_address_of

    def noisy(*args: Any, **kwargs: Any) -> Any:  # runs in the worker thread pool, like every handler
        logging.getLogger("backend.cases").warning("退货地址：%s，买家电话 %s", ADDRESS, PHONE)
        return original(*args, **kwargs)

    monkeypatch.setattr(case_routes, "return_address_of", noisy)
    assert api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()).status_code == 200
    (line,) = [line for line in json_lines.json() if line["logger"] == "backend.cases"]
    assert line["case_id"] == case_id
    assert line["message"] == f"退货地址：{MASK_ADDRESS}，买家电话 138****5678"


def test_gateway_lines_carry_the_conversation_id(api: Api, json_lines: Lines) -> None:
    """The test apps' Rasa refuses connections, so the relay logs a warning while handling the message."""
    token = tokens.issue(api.settings.widget_token_secret.get_secret_value(), "b_1001", api.clock.now, 1)
    with api.client.websocket_connect("/gateway/ws") as ws:
        sock = Socket(ws)
        sock.send({"type": "hello", "token": token, "last_seq": 0})
        sock.until("history")
        sock.send({"type": "message", "client_id": "m-1", "text": f"我的电话{PHONE}"})
        sock.until(lambda f: f["type"] == "message" and f["message"]["author"] == "system")
    lines = [line for line in json_lines.json() if line["logger"] == "backend.gateway"]
    assert lines and all(line["conversation_id"] == "web:b_1001" for line in lines)
    assert PHONE not in json_lines.text()


def test_uvicorn_lines_use_the_same_format(tmp_path: Path) -> None:
    """The logging config handed to uvicorn (and applied by backend.asgi): its access and error lines
    become JSON lines with the same redaction."""
    script = ("import logging\n"
              "from backend.observability.logs import configure_logging\n"
              "configure_logging('json', 'INFO')\n"
              "logging.getLogger('uvicorn.access').info('%s - \"%s %s HTTP/%s\" %d', '127.0.0.1:5000', 'GET',"
              " '/api/v1/cases/AS2611220123456?phone=13812345678', '1.1', 200)\n"
              "logging.getLogger('uvicorn.error').info('Started server process')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    access, error = [json.loads(line) for line in result.stderr.splitlines()]
    assert access["logger"] == "uvicorn.access" and "phone=138****5678" in access["message"]
    assert error == {**error, "logger": "uvicorn.error", "level": "INFO", "message": "Started server process"}


class Probe(Action):
    def name(self) -> str:
        return "action_probe"

    async def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[Any]:
        logging.getLogger("actions.probe").warning("买家留了电话 %s", PHONE)
        return []


def test_action_server_lines_carry_the_tracker_sender_id(json_lines: Lines) -> None:
    import actions  # noqa: F401 - importing the package installs the hook, as the action server does

    executor = ActionExecutor()
    executor.register_action(Probe)
    call = {"next_action": "action_probe", "sender_id": "web:b_1001", "domain": {}, "version": "3.6.21",
            "tracker": {"sender_id": "web:b_1001", "slots": {}, "latest_message": {}, "events": [], "paused": False}}
    asyncio.run(executor.run(call))
    (line,) = [line for line in json_lines.json() if line["logger"] == "actions.probe"]
    assert line["conversation_id"] == "web:b_1001"
    assert line["message"] == "买家留了电话 138****5678"
