"""Test doubles and helpers for the chat gateway: a fake Rasa server and a socket that can wait.

`FakeRasa` is a real HTTP server on 127.0.0.1 (a free port), so the gateway's own httpx client,
timeouts and error handling are exercised, not mocked. It speaks the two Rasa endpoints the gateway
uses and records every call; a test sets `script` to decide the answer.

`Socket` wraps Starlette's TestClient WebSocket session, whose `receive` blocks forever. A reader
thread moves every frame into a queue, so tests can wait for a frame with a timeout and see that a
frame did *not* come.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from starlette.testclient import WebSocketTestSession

Frame = dict[str, Any]
WAIT = 5.0  # seconds: how long a test waits for a frame that must come


# ---------------------------------------------------------------------------------- fake Rasa


@dataclass
class Raw:
    """A scripted answer other than "200 and this JSON list": any status, any body, after a delay."""

    status: int = 200
    body: Any = field(default_factory=list)  # JSON-encoded unless it is bytes
    delay: float = 0.0


Script = Callable[[Frame], "list[Frame] | Raw"]


def echo(call: Frame) -> list[Frame]:
    """The default script: one text reply repeating what the bot was sent."""
    return [{"recipient_id": call["sender"], "text": f"收到：{call['message']}"}]


class FakeRasa:
    """POST /webhooks/rest/webhook and POST /conversations/{id}/tracker/events, recorded.

    `calls`: the webhook bodies (sender, message, metadata); `resumes`: the tracker events with the
    decoded conversation id and the `token` query parameter; `log`: both, in arrival order, as
    ("message" | "resume", conversation id) pairs.
    """

    _TRACKER = re.compile(r"^/conversations/([^/]+)/tracker/events$")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]  # a client that timed out
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-rasa", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self.lock:
            self.calls: list[Frame] = []
            self.resumes: list[Frame] = []
            self.log: list[tuple[str, str]] = []
        self.script: Script = echo
        self.resume_status = 200

    def reply(self, *replies: Frame) -> None:
        """Answer every message with these bot messages."""
        self.script = lambda call: [dict(r) for r in replies]

    def fail(self, status: int = 500, body: Any = None, delay: float = 0.0) -> None:
        self.script = lambda call: Raw(status, {"error": "boom"} if body is None else body, delay)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"null")
        tracker = self._TRACKER.match(parts.path)
        if parts.path == "/webhooks/rest/webhook":
            call = {"sender": body.get("sender"), "message": body.get("message"), "metadata": body.get("metadata")}
            with self.lock:
                self.calls.append(call)
                self.log.append(("message", call["sender"]))
            answer = self.script(call)
        elif tracker is not None:
            conversation_id = unquote(tracker.group(1))
            token = parse_qs(parts.query).get("token", [None])[0]
            with self.lock:
                self.resumes.append({"conversation_id": conversation_id, "event": body, "token": token})
                self.log.append(("resume", conversation_id))
            answer = Raw(self.resume_status, {"events": [body]})
        else:
            answer = Raw(404, {"error": "not found"})
        if not isinstance(answer, Raw):
            answer = Raw(200, answer)
        if answer.delay:
            time.sleep(answer.delay)
        data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body, ensure_ascii=False).encode()
        request.send_response(answer.status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


# ---------------------------------------------------------------------------------- messages


def comparable(message: Frame) -> Frame:
    """A message with `created_at` as an instant: a live frame shows the clock's offset, a message read
    back from the database shows UTC; the same moment either way."""
    return {**message, "created_at": datetime.fromisoformat(message["created_at"])}


# ---------------------------------------------------------------------------------- sockets


class Closed(AssertionError):
    """The server closed the socket while a test was waiting for a frame."""

    def __init__(self, code: int) -> None:
        super().__init__(f"socket closed with code {code}")
        self.code = code


class Socket:
    """A WebSocket whose frames are read in the background; `next`/`until` wait with a timeout."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self._frames: queue.Queue[Frame] = queue.Queue()
        self.close_code: int | None = None
        self.welcome: Frame = {}
        self.history: list[Frame] = []
        self._backlog: list[Frame] = []  # frames `say` passed over on its way to the ack
        threading.Thread(target=self._read, name="test-socket-reader", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.ws.receive()
            except Exception:  # noqa: BLE001 - the session ended (its streams are closed on exit)
                self._frames.put({"type": "_closed", "code": None})
                return
            if message["type"] == "websocket.send":
                self._frames.put(json.loads(message["text"]))
            elif message["type"] == "websocket.close":
                self._frames.put({"type": "_closed", "code": message.get("code", 1000)})
                return

    def send(self, frame: Frame | str) -> None:
        self.ws.send_text(frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False))

    def next(self, timeout: float = WAIT) -> Frame:
        if self._backlog:
            return self._backlog.pop(0)
        try:
            frame = self._frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout}s") from None
        if frame["type"] == "_closed":
            self.close_code = frame["code"]
            self._frames.put(frame)  # stays closed for the next reader
            raise Closed(frame["code"])
        return frame

    def until(self, predicate: Callable[[Frame], bool] | str, timeout: float = WAIT, *,
              keep: bool = False) -> tuple[Frame, list[Frame]]:
        """The first frame that matches (a predicate, or a frame type) and the frames before it, which
        are dropped, or with `keep` left to be read next (in order)."""
        match = predicate if callable(predicate) else (lambda f: f["type"] == predicate)
        deadline = time.monotonic() + timeout
        skipped: list[Frame] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching frame within {timeout}s; got {skipped}")
                try:
                    frame = self.next(left)
                except Closed:
                    raise
                except AssertionError:
                    raise AssertionError(f"no matching frame within {timeout}s; got {skipped}") from None
                if match(frame):
                    return frame, skipped
                skipped.append(frame)
        finally:
            if keep:
                self._backlog[:0] = skipped

    def expect(self, kind: str, timeout: float = WAIT) -> Frame:
        return self.until(kind, timeout)[0]

    def quiet(self, seconds: float = 0.2) -> list[Frame]:
        """Every frame that arrives within `seconds` (to show that nothing else came)."""
        frames: list[Frame] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frames.append(self.next(left))
            except Closed:
                break
            except AssertionError:
                break
        return frames

    def closed_with(self, timeout: float = WAIT) -> int | None:
        """Wait for the server to close the socket; its close code."""
        while True:
            try:
                self.next(timeout)
            except Closed as exc:
                return exc.code

    # -- the buyer's side of the protocol ---------------------------------------------------------

    def say(self, text: str = "", *, client_id: str | None = None, **extra: Any) -> Frame:
        """Send a buyer message; the server's answer to it (its ack, or an error frame). Other frames that
        came first stay to be read."""
        client_id = client_id or uuid.uuid4().hex
        self.send({"type": "message", "client_id": client_id, "text": text, **extra})
        frame, _ = self.until(lambda f: f["type"] in ("ack", "error") and f.get("client_id") == client_id, keep=True)
        return frame

    def messages(self, count: int = 1, timeout: float = WAIT) -> list[Frame]:
        """The next `count` message frames' messages (other frames are skipped)."""
        return [self.until("message", timeout)[0]["message"] for _ in range(count)]

    def message_from(self, *authors: str, timeout: float = WAIT) -> Frame:
        """The next message by one of these authors (skipping everything else)."""
        frame, _ = self.until(lambda f: f["type"] == "message" and f["message"]["author"] in authors, timeout)
        return frame["message"]

    def sync(self) -> None:
        """Ping and wait for the pong: every frame sent before the ping has been handled."""
        self.send({"type": "ping"})
        self.expect("pong")
