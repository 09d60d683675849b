"""The backend client against a real HTTP server on 127.0.0.1: timeouts, retries, errors, headers, cache.

The server is a tiny threaded stdlib server that answers from a script per route and records every
request it receives, so a test can count how often the client really sent something.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from actions import backend_client
from actions.backend_client import BackendClient, BackendError, BackendUnavailable
from actions.config import ActionSettings

TOKEN = "test-token-0123456789"
SLOW = 5.0  # seconds a "slow" answer would take: far beyond every timeout used here


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # sent as is instead of JSON


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any


class ScriptedBackend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self.release = threading.Event()  # set at teardown: slow handlers stop waiting
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, path: str, *replies: Reply) -> None:
        """Replies in order; the last one repeats."""
        self.script[(method, f"/api/v1{path}")] = list(replies)

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, f"/api/v1{path}")]


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedBackend

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.seen.append(Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()),
                                         json.loads(raw) if raw else None))
            replies = self.server.script.get((self.command, parts.path)) or [Reply(404, {"detail": "请求的地址不存在"})]
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if reply.delay:
            self.server.release.wait(reply.delay)
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body, ensure_ascii=False).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json" if reply.raw is None else "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the point of the test
            pass

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def server() -> Iterator[ScriptedBackend]:
    backend = ScriptedBackend()
    thread = threading.Thread(target=backend.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield backend
    backend.release.set()
    backend.shutdown()
    backend.server_close()


def make_client(server: ScriptedBackend, *, timeout: float = 2.0, retries: int = 2) -> BackendClient:
    return BackendClient(ActionSettings(backend_url=server.url, api_token=TOKEN, timeout_seconds=timeout,
                                        retries=retries))


ORDER_ID = "2026111812345678"
ORDER_PATH = f"/orders/{ORDER_ID}"


# ---------------------------------------------------------------- timeouts


def test_a_backend_that_does_not_answer_becomes_backend_unavailable_within_the_timeout(server: ScriptedBackend) -> None:
    server.answer("GET", ORDER_PATH, Reply(delay=SLOW))
    client = make_client(server, timeout=0.2, retries=0)

    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        client.order(ORDER_ID, "b_1001")

    assert time.monotonic() - started < 1.5
    assert len(server.requests_to("GET", ORDER_PATH)) == 1


def test_a_read_that_times_out_is_tried_once_more_per_retry_and_still_gives_up_quickly(server: ScriptedBackend) -> None:
    server.answer("GET", ORDER_PATH, Reply(delay=SLOW))
    client = make_client(server, timeout=0.2, retries=2)

    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        client.order(ORDER_ID, "b_1001")

    assert time.monotonic() - started < 3.0  # 3 × 0.2 s waiting + 0.2 s + 0.4 s back-off, far below SLOW
    assert len(server.requests_to("GET", ORDER_PATH)) == 3


def test_an_unreachable_backend_is_backend_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    client = BackendClient(ActionSettings(backend_url=f"http://127.0.0.1:{port}", api_token=TOKEN,
                                          timeout_seconds=0.5, retries=0))

    with pytest.raises(BackendUnavailable):
        client.vocabulary()


# ---------------------------------------------------------------- retries


def test_a_5xx_on_a_get_is_retried_then_becomes_backend_unavailable(server: ScriptedBackend) -> None:
    server.answer("GET", ORDER_PATH, Reply(503, {"detail": "系统繁忙，请稍后再试"}))

    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        make_client(server, retries=2).order(ORDER_ID, "b_1001")

    assert len(server.requests_to("GET", ORDER_PATH)) == 3


def test_a_get_that_fails_once_with_a_5xx_succeeds_on_the_retry(server: ScriptedBackend, canned: Any) -> None:
    order = canned("order_single")
    server.answer("GET", ORDER_PATH, Reply(500, {"detail": "系统繁忙，请稍后再试"}), Reply(200, order))

    assert make_client(server, retries=2).order(ORDER_ID, "b_1001") == order
    assert len(server.requests_to("GET", ORDER_PATH)) == 2


@pytest.mark.parametrize("reply", [Reply(503, {"detail": "系统繁忙，请稍后再试"}), Reply(delay=SLOW)],
                         ids=["5xx", "timeout"])
def test_a_post_without_an_idempotency_key_is_sent_only_once(server: ScriptedBackend, reply: Reply) -> None:
    server.answer("POST", "/handoffs", reply)
    body = {"conversation_id": "web:abc", "channel": "web", "buyer_id": "b_1001", "case_id": None,
            "reason": "requested", "summary": "买家最近说：转人工"}

    with pytest.raises(BackendUnavailable):
        make_client(server, timeout=0.3, retries=2).handoff(body, "b_1001")

    assert len(server.requests_to("POST", "/handoffs")) == 1


def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(server: ScriptedBackend, canned: Any) -> None:
    case = canned("case_awaiting_materials")
    server.answer("POST", "/cases", Reply(502, {"detail": "系统繁忙，请稍后再试"}), Reply(201, case))
    request = {"order_id": ORDER_ID, "item_id": "1", "buyer_id": "b_1001", "reason": "quality",
               "remedy": "return_refund"}

    assert make_client(server, retries=2).file_case(request, "b_1001", "bot-key-1") == case

    sent = server.requests_to("POST", "/cases")
    assert [s.headers.get("Idempotency-Key") for s in sent] == ["bot-key-1", "bot-key-1"]
    assert [s.json for s in sent] == [request, request]


def test_a_post_with_an_idempotency_key_gives_up_after_the_retries(server: ScriptedBackend) -> None:
    server.answer("POST", "/cases", Reply(503, {"detail": "系统繁忙，请稍后再试"}))

    with pytest.raises(BackendUnavailable):
        make_client(server, retries=1).file_case({"order_id": ORDER_ID}, "b_1001", "bot-key-1")

    assert len(server.requests_to("POST", "/cases")) == 2


# ---------------------------------------------------------------- errors


def test_a_4xx_becomes_backend_error_with_the_chinese_detail_and_is_not_retried(server: ScriptedBackend,
                                                                                  canned: Any) -> None:
    stored = canned("errors")["order_not_found"]
    server.answer("GET", ORDER_PATH, Reply(stored["status"], stored["body"]))

    with pytest.raises(BackendError) as caught:
        make_client(server, retries=2).order(ORDER_ID, "b_1001")

    assert (caught.value.status, caught.value.message, caught.value.body) == (404, "未找到该订单，请核对订单号",
                                                                              stored["body"])
    assert len(server.requests_to("GET", ORDER_PATH)) == 1


def test_a_409_on_filing_keeps_the_whole_body_so_the_existing_case_can_be_named(server: ScriptedBackend,
                                                                                 canned: Any) -> None:
    stored = canned("errors")["open_case_exists"]
    server.answer("POST", "/cases", Reply(stored["status"], stored["body"]))

    with pytest.raises(BackendError) as caught:
        make_client(server).file_case({"order_id": ORDER_ID}, "b_1001", "bot-key-1")

    assert caught.value.status == 409
    assert caught.value.message == "该商品已有进行中的售后单"
    assert caught.value.body["case_id"] == stored["body"]["case_id"]


def test_a_4xx_without_a_text_detail_gets_a_generic_chinese_message(server: ScriptedBackend) -> None:
    server.answer("POST", "/eligibility", Reply(422, {"detail": [{"loc": ["body"], "msg": "field required"}]}))

    with pytest.raises(BackendError) as caught:
        make_client(server).eligibility({"order_id": ORDER_ID}, "b_1001")

    assert (caught.value.status, caught.value.message) == (422, "请求未成功")


def test_an_answer_that_is_not_json_is_backend_unavailable(server: ScriptedBackend) -> None:
    server.answer("GET", ORDER_PATH, Reply(200, raw=b"<html>gateway</html>"))

    with pytest.raises(BackendUnavailable, match="not JSON"):
        make_client(server).order(ORDER_ID, "b_1001")


# ---------------------------------------------------------------- what is sent


def test_the_service_token_and_the_buyer_are_sent_as_headers(server: ScriptedBackend, canned: Any) -> None:
    orders = canned("buyer_orders")
    server.answer("GET", "/buyers/b_1001/orders", Reply(200, orders))

    assert make_client(server).buyer_orders("b_1001", 8) == orders["orders"]

    [seen] = server.requests_to("GET", "/buyers/b_1001/orders")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["X-Buyer-Id"] == "b_1001"
    assert seen.query == {"limit": ["8"]}
    assert "Idempotency-Key" not in seen.headers


def test_no_buyer_header_is_sent_when_the_buyer_is_unknown(server: ScriptedBackend, canned: Any) -> None:
    server.answer("GET", ORDER_PATH, Reply(200, canned("order_single")))

    make_client(server).order(ORDER_ID, None)

    [seen] = server.requests_to("GET", ORDER_PATH)
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Buyer-Id" not in seen.headers


def test_the_eligibility_request_is_posted_as_json(server: ScriptedBackend, canned: Any) -> None:
    decision = canned("decision_needs_materials")
    server.answer("POST", "/eligibility", Reply(200, decision))
    request = {"order_id": ORDER_ID, "item_id": "1", "buyer_id": "b_1001", "reason": "quality"}

    assert make_client(server).eligibility(request, "b_1001") == decision
    assert [s.json for s in server.requests_to("POST", "/eligibility")] == [request]


def test_open_cases_asks_for_the_buyers_cases_and_leaves_out_closed_ones(server: ScriptedBackend,
                                                                        canned: Any) -> None:
    listing = canned("case_list")
    open_case, other = listing["cases"]
    listing["cases"] += [{**other, "case_id": f"AS26112000000{i}", "status": status}
                         for i, status in enumerate(["completed", "cancelled", "closed_timeout"])]
    server.answer("GET", "/cases", Reply(200, listing))

    assert make_client(server).open_cases("b_1001") == [open_case, other]
    [seen] = server.requests_to("GET", "/cases")
    assert seen.query == {"buyer_id": ["b_1001"], "limit": ["20"]}


def test_materials_and_transitions_are_posted_to_the_case(server: ScriptedBackend, canned: Any) -> None:
    case = canned("case_awaiting_materials")
    path = f"/cases/{case['case_id']}"
    server.answer("POST", f"{path}/materials", Reply(200, case))
    server.answer("POST", f"{path}/transitions", Reply(200, case))
    client = make_client(server)

    client.add_materials(case["case_id"], [{"code": "return_tracking", "text": "SF1234567890123"}], "b_1001")
    client.transition(case["case_id"], "cancel", "b_1001")

    assert [s.json for s in server.requests_to("POST", f"{path}/materials")] == [
        {"materials": [{"code": "return_tracking", "text": "SF1234567890123"}]}]
    assert [s.json for s in server.requests_to("POST", f"{path}/transitions")] == [{"action": "cancel"}]


# ---------------------------------------------------------------- cache


def test_the_vocabulary_is_fetched_once_and_then_served_from_the_cache(server: ScriptedBackend, canned: Any) -> None:
    vocabulary = canned("vocabulary")
    server.answer("GET", "/policy/vocabulary", Reply(200, vocabulary))
    client = make_client(server)

    assert client.vocabulary() == vocabulary
    assert client.vocabulary() == vocabulary
    assert len(server.requests_to("GET", "/policy/vocabulary")) == 1


def test_the_vocabulary_is_fetched_again_once_the_cache_expired(server: ScriptedBackend, canned: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server.answer("GET", "/policy/vocabulary", Reply(200, canned("vocabulary")))
    client = make_client(server)
    client.vocabulary()
    five_minutes_later = SimpleNamespace(monotonic=lambda: time.monotonic() + 301, sleep=time.sleep)
    monkeypatch.setattr(backend_client, "time", five_minutes_later)

    client.vocabulary()

    assert len(server.requests_to("GET", "/policy/vocabulary")) == 2


def test_a_failed_vocabulary_fetch_is_not_cached(server: ScriptedBackend, canned: Any) -> None:
    server.answer("GET", "/policy/vocabulary", Reply(503, {"detail": "系统繁忙，请稍后再试"}),
                  Reply(200, canned("vocabulary")))
    client = make_client(server, retries=0)

    with pytest.raises(BackendUnavailable):
        client.vocabulary()
    assert client.vocabulary() == canned("vocabulary")


# ---------------------------------------------------------------- the process-wide client


def test_client_creates_one_client_on_first_use_and_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_client, "_client", None)

    first = backend_client.client()

    assert isinstance(first, BackendClient)
    assert backend_client.client() is first
