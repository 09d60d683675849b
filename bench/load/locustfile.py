"""Simulated buyers for the load test (bench/load_test.py starts it; it can also be run by hand):

    WIDGET_TOKEN_SECRET=… CASE_API_TOKEN=… PYTHONPATH=. .venv/bin/locust -f bench/load/locustfile.py \
        --headless -u 10 -r 2 -t 60s --host http://127.0.0.1:8000

Each Locust user is one logged-in buyer at a time (a new buyer, with a new order and conversation, takes
over the widget before each filing, so a buyer files one case) talking over the real buyer channel: the
gateway WebSocket `/gateway/ws` (docs/gateway.md), never Rasa's REST channel, so the measured turn
includes everything a buyer waits for — the gateway's log write, its per-conversation lock (Redis in
production mode), the Rasa instance, the action server and the case backend behind it.

A turn is timed from sending the `message` frame until the bot's answer is in. The gateway publishes
`typing` off when Rasa has answered and the bot's messages right after it (relay._to_bot), and a reply
may be several messages, so the answer is "in" once `typing` off and at least one bot message newer
than our own message's ack have arrived and nothing more came for QUIET_SECONDS; the time recorded is
that of the last bot message, so the quiet wait is not counted.

Every turn is reported to Locust (`events.request`, type "WS", named by turn kind) so Locust computes
the percentiles and rates. Failures: an error frame for our message, no complete answer within 30 s,
a missing ack, an ack for the same client_id twice, the gateway's "assistant unavailable" message
(MSG_BOT_DOWN), the action server's "case backend busy" message, the conversation handed to a person,
and a filing whose answers are not the ones the bot gives when everything works.

What the database check after the run needs is appended to LOAD_RECORDS (JSON lines): every acked
message (conversation, client_id, seq), every turn, every filing scenario (order and the case id the
bot announced). LOAD_SUMMARY receives Locust's own figures of the measured window.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import random
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import gevent
import websocket  # websocket-client: blocking sockets, made cooperative by Locust's gevent monkey-patching
from locust import HttpUser, events, task
from locust.env import Environment
from locust.stats import StatsEntry
from PIL import Image

from backend.gateway import tokens
from backend.gateway.relay import MSG_BOT_DOWN

ROOT = Path(__file__).resolve().parents[2]


def _action_texts() -> Any:
    """actions/texts.py without importing the `actions` package (its __init__ installs the action
    server's logging, which must not take over the load generator's)."""
    spec = importlib.util.spec_from_file_location("_aftersales_texts", ROOT / "actions" / "texts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEXTS = _action_texts()
TURN_TIMEOUT = 30.0   # a buyer who waits longer than this has given up: a failure
QUIET_SECONDS = 1.0   # the bot's messages of one turn are published together; this silence ends the turn
THINK_MIN, THINK_MAX = (float(x) for x in os.environ.get("LOAD_THINK", "3,9").split(","))
SECRET = os.environ.get("WIDGET_TOKEN_SECRET", "")
SERVICE_TOKEN = os.environ.get("CASE_API_TOKEN", "")
STAGE = os.environ.get("LOAD_STAGE", "manual")
CASE_ID = re.compile(r"AS\d{10,14}")
SHOES = {"item_id": "1", "sku": "SHOE-42-BLK", "title": "男士跑步鞋 黑色 42码", "category": "shoes", "quantity": 1,
         "unit_price": "299.00", "flags": [], "warranty_days": 0}
POLICY_QUESTIONS = ["七天无理由退货怎么算", "退货运费谁出", "退款多久到账", "什么商品不能退", "保修怎么弄",
                    "需要什么凭证", "七天无理由退货是怎么算的？"]
CHITCHAT = ["你好", "谢谢", "好的，谢谢你", "在吗"]
# What the evidence turn answers when the bot took the photo and the description (the case is then
# complete; or waiting for a person's review, which the policy's review rules may ask for).
EVIDENCE_TAKEN = (TEXTS.MATERIALS_COMPLETE, TEXTS.MATERIALS_RECEIVED.split("{")[0], TEXTS.REVIEW.split("，")[0])

_records: TextIO | None = None
_window: dict[str, float] = {}
# Every failure of the whole stage, ramp-up included (--reset-stats drops those of the ramp-up from
# Locust's own statistics, but a failure while users arrive is still a failure).
_failures: Counter[tuple[str, str, str]] = Counter()


class TurnFailure(Exception):
    """One failed turn, named so Locust groups failures by their kind."""


def record(what: str, **fields: Any) -> None:
    if _records is not None:
        _records.write(json.dumps({"t": what, "stage": STAGE, **fields}, ensure_ascii=False) + "\n")


def unique_png() -> bytes:
    """A small real PNG whose content (so SHA-256) is new: the backend dedupes evidence by hash and
    evidence already on another buyer's case sends a case to review, which no real buyer's photo does."""
    image = Image.new("RGB", (48, 36), tuple(random.randrange(256) for _ in range(3)))
    for _ in range(8):
        image.putpixel((random.randrange(48), random.randrange(36)), tuple(random.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# Turns each task sends; with the task weights below this gives the turns per case of the scenario mix.
TURNS_PER_TASK = {"file_case": 3, "ask_progress": 1, "ask_policy": 1, "small_talk": 1}


class Buyer(HttpUser):
    """One logged-in buyer with the widget open. Tasks are weighted so that a case comes with its share
    of progress questions, policy questions and small talk (turns per case: (2·3 + 2 + 3 + 2) / 2 = 6.5)."""

    def wait_time(self) -> float:
        return random.uniform(THINK_MIN, THINK_MAX)

    def on_start(self) -> None:
        self.ws: websocket.WebSocket | None = None
        self.acked: dict[str, int] = {}  # client_id → seq, to notice an ack twice
        self.sent: dict[str, str] = {}   # client_id → turn kind
        self.max_seq = 0
        self.new_identity()

    def on_stop(self) -> None:
        self.close()

    # -- identity and socket ---------------------------------------------------------------------

    def new_identity(self) -> None:
        """A fresh buyer with one delivered order; also after a handoff, which silences the bot."""
        self.close()
        self.buyer_id = f"b_load{STAGE}_{uuid.uuid4().hex[:10]}"
        self.conversation_id = f"web:{self.buyer_id}"
        self.token = tokens.issue(SECRET, self.buyer_id, datetime.now(timezone.utc), 2)
        self.acked.clear()
        self.sent.clear()
        self.max_seq = 0
        self.handed_off = False
        self.filed = False
        self.order_id = self.create_order()
        self.connect()

    def create_order(self) -> str | None:
        """Through the shop's order feed (PUT /api/v1/orders/{id}, service token), as in production."""
        order_id = f"2026{secrets.randbelow(10**12):012d}"
        now = datetime.now(timezone.utc)
        body = {"order_id": order_id, "buyer_id": self.buyer_id, "status": "delivered",
                "paid_at": (now - timedelta(days=6)).isoformat(), "shipped_at": (now - timedelta(days=5)).isoformat(),
                "delivered_at": (now - timedelta(days=3)).isoformat(), "shipping_fee": "10.00",
                "discount_total": "20.00", "items": [SHOES]}
        with self.client.put(f"/api/v1/orders/{order_id}", json=body, name="http PUT /api/v1/orders/{id}",
                             headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return None
        return order_id

    def connect(self) -> None:
        url = self.host.replace("http", "ws", 1) + "/gateway/ws"
        started = time.perf_counter()
        try:
            ws = websocket.create_connection(url, timeout=TURN_TIMEOUT, origin=self.host)
            ws.send(json.dumps({"type": "hello", "token": self.token, "last_seq": self.max_seq}))
            welcome = json.loads(ws.recv())
            if welcome.get("type") != "welcome":
                raise TurnFailure(f"hello refused: {welcome.get('code')}")
            history = json.loads(ws.recv())
            for message in history.get("messages", []):
                self.max_seq = max(self.max_seq, message["seq"])
        except (websocket.WebSocketException, OSError, ValueError, TurnFailure) as exc:
            self.fire("connect", started, exc if isinstance(exc, TurnFailure) else TurnFailure(type(exc).__name__))
            self.ws = None
            return
        self.ws = ws
        self.fire("connect", started, None)

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            try:
                self.ws.close()  # type: ignore[union-attr]
            except (websocket.WebSocketException, OSError):
                pass
            self.ws = None

    def fire(self, name: str, started: float, exc: Exception | None, length: int = 0,
             request_type: str = "WS") -> None:
        self.environment.events.request.fire(request_type=request_type, name=name, context={}, exception=exc,
                                             response_time=(time.perf_counter() - started) * 1000,
                                             response_length=length)

    # -- one turn --------------------------------------------------------------------------------

    def turn(self, kind: str, text: str, attachments: list[dict[str, Any]] | None = None,
             expect: Callable[[str], str | None] | None = None) -> list[dict[str, Any]] | None:
        """Send one message and wait for the bot's complete answer; report it; None when it failed.

        `expect` checks the answer's text and names what is wrong with it (None: as a healthy stack
        answers), so a wrong answer fails this one turn instead of adding a second sample to Locust."""
        if self.ws is None:
            self.connect()
            if self.ws is None:
                return None
        client_id = uuid.uuid4().hex
        self.sent[client_id] = kind
        base_seq = self.max_seq
        ack_seq: int | None = None
        typing_off_after_ack = False
        candidates: list[tuple[float, dict[str, Any]]] = []  # (arrival, message): bot messages newer than base_seq
        failure: str | None = None
        sent = time.perf_counter()
        deadline = sent + TURN_TIMEOUT
        try:
            self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text, "payload": None,
                                     "attachments": attachments or []}, ensure_ascii=False))
            while failure is None:
                now = time.perf_counter()
                replies = [m for at, m in candidates if ack_seq is not None and m["seq"] > ack_seq]
                if ack_seq is not None and typing_off_after_ack and replies:
                    last = max(at for at, m in candidates if m["seq"] > ack_seq)
                    wait = min(QUIET_SECONDS - (now - last), deadline - now)
                    if wait <= 0:
                        break
                else:
                    wait = deadline - now
                    if wait <= 0:
                        failure = "missing ack" if ack_seq is None and candidates else "timeout (30 s)"
                        break
                self.ws.settimeout(wait)
                try:
                    frame = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                arrived = time.perf_counter()
                kind_of = frame.get("type")
                if kind_of == "ack":
                    acked_id, seq = frame["client_id"], frame["seq"]
                    if acked_id in self.acked:  # we never resend, so the server has no reason to ack again
                        # Its own request type: a failure of the stage, but no sample among the turns' latencies.
                        self.fire(f"ack twice ({self.sent.get(acked_id, kind)})", arrived,
                                  TurnFailure(f"seq {self.acked[acked_id]}, then {seq}"), request_type="WS check")
                        continue
                    self.acked[acked_id] = seq
                    # Late acks of an earlier, timed-out turn count too: the buyer was told it is stored.
                    record("ack", conv=self.conversation_id, client_id=acked_id, seq=seq,
                           kind=self.sent.get(acked_id, "?"))
                    if acked_id == client_id:
                        ack_seq = seq
                elif kind_of == "error":
                    if frame.get("client_id") in (client_id, None):
                        failure = f"error frame: {frame.get('code')}"
                elif kind_of == "typing":
                    if not frame.get("on") and ack_seq is not None:
                        typing_off_after_ack = True
                elif kind_of == "mode":
                    if frame.get("mode") == "agent":
                        self.handed_off = True
                        failure = "handed to a person"
                elif kind_of == "message":
                    message = frame["message"]
                    self.max_seq = max(self.max_seq, message["seq"])
                    is_reply = message["author"] == "bot" or (
                        message["author"] == "system" and (message.get("custom") or {}).get("type") == "request_human")
                    if is_reply and message["seq"] > base_seq:
                        candidates.append((arrived, message))
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            failure = f"socket: {type(exc).__name__}"
            self.close()

        replies = [(at, m) for at, m in candidates if ack_seq is not None and m["seq"] > ack_seq]
        answer = "\n".join(m.get("text") or "" for _, m in replies)
        if failure is None and any(m["author"] == "system" for _, m in replies):
            failure = "assistant unavailable (MSG_BOT_DOWN)" if MSG_BOT_DOWN in answer else "system reply"
        if failure is None and TEXTS.BACKEND_DOWN in answer:
            failure = "case backend busy (actions' BACKEND_DOWN)"
        if failure is None and expect is not None:
            wrong = expect(answer)
            failure = f"unexpected answer: {wrong}" if wrong else None
        elapsed_until = max((at for at, _ in replies), default=time.perf_counter())
        ms = (elapsed_until - sent) * 1000
        self.environment.events.request.fire(
            request_type="WS", name=kind, response_time=ms, response_length=len(answer), context={},
            exception=TurnFailure(failure) if failure else None)
        record("turn", conv=self.conversation_id, client_id=client_id, kind=kind, ms=round(ms, 1),
               ok=failure is None, error=failure, at=time.time(), replies=len(replies))
        return None if failure else [m for _, m in replies]

    def think(self) -> None:
        gevent.sleep(random.uniform(THINK_MIN, THINK_MAX))

    # -- what buyers do --------------------------------------------------------------------------

    @task(2)
    def file_case(self) -> None:
        """A quality exchange from free text, confirmed, then the photo and description in one message."""
        # One case per buyer: the next filing is another buyer arriving at the widget. A buyer filing case
        # after case would soon trip the policy's "3 cases in 30 days" review rule, which real buyers rarely do.
        if self.handed_off or self.filed:
            self.new_identity()
        self.filed = True
        order_id = self.order_id or self.create_order()
        self.order_id = None
        if order_id is None:
            return
        replies = self.turn("file: describe", f"订单{order_id}的鞋子开胶了，想换一双",
                            expect=lambda answer: None if "确认提交吗" in answer else "no summary to confirm")
        if replies is None:
            return
        self.think()
        replies = self.turn("file: confirm", "确认",
                            expect=lambda answer: None if CASE_ID.search(answer) else "no case number")
        # Written whatever the answer: the database check looks for this order's cases either way.
        record("filing", conv=self.conversation_id, order_id=order_id,
               case_id=next((m.group(0) for m in map(CASE_ID.search, (r.get("text") or "" for r in replies or []))
                             if m), None), answered=replies is not None)
        if replies is None:
            return
        self.think()
        with self.client.post("/gateway/uploads", files={"file": ("sole.png", unique_png(), "image/png")},
                              headers={"Authorization": f"Bearer {self.token}"}, name="http POST /gateway/uploads",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return
            upload_id = response.json()["upload_id"]
        self.turn("file: evidence", "鞋底整个开胶了，走路会进水", attachments=[{"upload_id": upload_id, "material": None}],
                  expect=lambda answer: None if any(t in answer for t in EVIDENCE_TAKEN)
                  else "photo and description not taken")

    @task(2)
    def ask_progress(self) -> None:
        if self.handed_off:
            self.new_identity()
        self.turn("progress", random.choice(["我的换货到哪了", "我的售后进度怎么样了"]))

    @task(3)
    def ask_policy(self) -> None:
        if self.handed_off:
            self.new_identity()
        self.turn("policy", random.choice(POLICY_QUESTIONS))

    @task(2)
    def small_talk(self) -> None:
        if self.handed_off:
            self.new_identity()
        self.turn("greet/thank", random.choice(CHITCHAT))


# -- what the driver reads -------------------------------------------------------------------------

@events.init.add_listener
def _open_records(environment: Environment, **_: Any) -> None:
    global _records
    path = os.environ.get("LOAD_RECORDS")
    if path:
        _records = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the whole run


@events.request.add_listener
def _count_failure(request_type: str, name: str, exception: Exception | None = None, **_: Any) -> None:
    if exception is not None:
        _failures[(request_type, name, str(exception))] += 1


@events.spawning_complete.add_listener
def _window_starts(user_count: int, **_: Any) -> None:
    _window["start"] = time.time()  # Locust resets its statistics now (--reset-stats): the measured window


@events.test_stop.add_listener
def _write_summary(environment: Environment, **_: Any) -> None:
    _window["end"] = time.time()
    path = os.environ.get("LOAD_SUMMARY")
    if not path:
        return
    stats = environment.stats
    turns = StatsEntry(stats, "all turns", "WS")
    by_kind: dict[str, dict[str, Any]] = {}
    for (name, method), entry in stats.entries.items():
        if method == "WS" and name != "connect":
            turns.extend(entry)
        by_kind[f"{method} {name}"] = figures(entry)
    summary = {"stage": STAGE, "users": environment.runner.user_count if environment.runner else None,
               "window_start": _window.get("start"), "window_end": _window["end"],
               "stats_start": stats.start_time, "last_request": stats.last_request_timestamp,
               "turns": figures(turns), "by_kind": by_kind, "mix": scenario_mix(),
               "failures_whole_stage": [{"method": m, "name": n, "error": e, "occurrences": c}
                                        for (m, n, e), c in sorted(_failures.items())],
               "errors": [{"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
                          for e in stats.errors.values()]}
    Path(path).write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    if _records is not None:
        _records.flush()


def scenario_mix() -> dict[str, Any]:
    """Task weights as Locust holds them (each task repeated by its weight) and the turns per case they give."""
    weights = Counter(t.__name__ for t in Buyer.tasks)  # type: ignore[union-attr]
    turns = sum(weights[name] * TURNS_PER_TASK[name] for name in weights)
    return {"weights": dict(weights), "turns_per_task": TURNS_PER_TASK,
            "turns_per_case": turns / weights["file_case"]}


def figures(entry: StatsEntry) -> dict[str, Any]:
    if not entry.num_requests:
        return {"requests": 0, "failures": entry.num_failures}
    return {"requests": entry.num_requests, "failures": entry.num_failures, "rps": entry.total_rps,
            "p50": entry.get_response_time_percentile(0.5), "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99), "avg": entry.avg_response_time,
            "max": entry.max_response_time}
