"""Production mode through the real processes (scripts/prod.py): two backend workers on PostgreSQL,
two Rasa instances sharing a SQL tracker store on PostgreSQL and a Redis lock store, two action
server workers.

One conversation's turns sent alternately to both Rasa instances must end exactly as the same
conversation on one instance; concurrent messages of one conversation are handled one after the
other; the deadline sweep runs once across the backend workers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text
from websockets.sync.client import connect

from backend.gateway import tokens
from tests.support import media
from tests.support.databases import drop_postgres, fresh_postgres_url
from tests.support.stack import MODEL, ROOT, free_port

sys.path.insert(0, str(ROOT / "scripts"))
from prod import ProdStack, problems, rasa_endpoints  # noqa: E402

pytestmark = pytest.mark.postgres
CASE_ID = re.compile(r"AS\d{12}")
ORDER_ID = re.compile(r"\d{16}")
SHOES = {"item_id": "1", "sku": "SHOE-42-BLK", "title": "男士跑步鞋 黑色 42码", "category": "shoes", "quantity": 1,
         "unit_price": "299.00", "flags": [], "warranty_days": 0}


def secrets_env() -> dict[str, str]:
    return {"CASE_API_TOKEN": secrets.token_hex(16), "WIDGET_TOKEN_SECRET": secrets.token_hex(24),
            "RASA_TOKEN": secrets.token_hex(16)}


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdStack]:
    if not MODEL.exists():
        pytest.fail("no trained model: the test command trains it first (scripts/train.sh)")
    tmp = tmp_path_factory.mktemp("prod")
    backend_db, rasa_db = fresh_postgres_url("prod"), fresh_postgres_url("prodrasa")
    prefix = f"test{uuid.uuid4().hex[:10]}"
    env = {**secrets_env(), "DATABASE_URL": backend_db, "RASA_TRACKER_DB_URL": rasa_db.replace("+psycopg", ""),
           "REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": prefix, "UPLOAD_DIR": str(tmp / "uploads"),
           "SCHEDULER_INTERVAL_SECONDS": "1"}
    stack = ProdStack(backend_port=free_port(), actions_port=free_port(), rasa_ports=[free_port(), free_port()],
                      env=env, log_dir=tmp / "logs", run_dir=tmp / "run")
    stack.start(timeout=600)  # two Rasa instances load their model at once: slow on a busy 2-core machine
    yield stack
    stack.stop()
    for url in (backend_db, rasa_db):
        drop_postgres(url)
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


class Buyer:
    def __init__(self, stack: ProdStack) -> None:
        self.stack, self.buyer_id = stack, f"b_{uuid.uuid4().hex[:10]}"
        self.service = {"Authorization": f"Bearer {stack.env['CASE_API_TOKEN']}"}

    def api(self, method: str, path: str, *, as_buyer: bool = True, **kwargs: Any) -> httpx.Response:
        headers = {**self.service, **({"X-Buyer-Id": self.buyer_id} if as_buyer else {}), **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.stack.backend_url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def order(self) -> str:
        order_id = f"2026{secrets.randbelow(10**12):012d}"
        now = datetime.now(timezone.utc)
        body = {"order_id": order_id, "buyer_id": self.buyer_id, "status": "delivered",
                "paid_at": (now - timedelta(days=6)).isoformat(), "shipped_at": (now - timedelta(days=5)).isoformat(),
                "delivered_at": (now - timedelta(days=3)).isoformat(), "shipping_fee": "10.00",
                "discount_total": "20.00", "items": [SHOES]}
        assert self.api("PUT", f"/orders/{order_id}", as_buyer=False, json=body).status_code == 201
        return order_id

    def upload(self) -> str:
        # A picture of this buyer's own: the same file sent by two buyers is flagged for review.
        size = (40 + secrets.randbelow(400), 30 + secrets.randbelow(300))
        response = self.api("POST", "/uploads", files={"file": ("sole.png", media.png("red", size), "image/png")})
        assert response.status_code == 201, response.text
        return response.json()["upload_id"]


def say(url: str, sender: str, buyer_id: str, message: str, attachments: list[dict[str, Any]] | None = None) -> str:
    metadata: dict[str, Any] = {"channel": "web", "buyer_id": buyer_id, "attachments": attachments or []}
    response = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message,
                                                                "metadata": metadata}, timeout=60)
    assert response.status_code == 200, response.text
    return "\n".join(m.get("text", "") for m in response.json())


def conversation(stack: ProdStack, urls: list[str]) -> tuple[list[str], dict[str, Any], str, dict[str, Any]]:
    """A buyer files a quality exchange and asks for progress, turn i going to urls[i % len(urls)]."""
    buyer = Buyer(stack)
    order = buyer.order()
    sender = f"web:{buyer.buyer_id}"
    turns = [(f"订单{order}的鞋子开胶了，想换一双", None), ("确认", None),
             ("鞋底整个开胶了，走路会进水", [{"upload_id": buyer.upload(), "material": None}]),
             ("我的换货到哪了", None), ("谢谢", None)]
    replies = []
    for i, (message, attachments) in enumerate(turns):
        reply = say(urls[i % len(urls)], sender, buyer.buyer_id, message, attachments)
        replies.append(ORDER_ID.sub("<order>", CASE_ID.sub("<case>", reply)))
    case_id = buyer.api("GET", "/cases", params={"buyer_id": buyer.buyer_id}).json()["cases"][0]["case_id"]
    case = buyer.api("GET", f"/cases/{case_id}").json()
    tracker = httpx.get(f"{urls[0]}/conversations/{sender}/tracker", params={"token": stack.rasa_token}, timeout=30).json()
    return replies, case, sender, tracker


def comparable_case(case: dict[str, Any]) -> dict[str, Any]:
    return {"status": case["status"], "reason": case["reason"], "remedy": case["remedy"],
            "materials": sorted(m["code"] for m in case["materials"]),
            "events": [e["action"] for e in case["events"]]}


def test_turns_alternating_between_the_rasa_instances_end_as_on_one_instance(prod: ProdStack) -> None:
    one_replies, one_case, _, one_tracker = conversation(prod, prod.rasa_urls[:1])
    both_replies, both_case, sender, tracker = conversation(prod, prod.rasa_urls)
    assert both_replies == one_replies
    assert "<case>" in both_replies[1] and "待寄回商品" in both_replies[3]
    assert comparable_case(both_case) == comparable_case(one_case)
    assert both_case["status"] == "awaiting_return"
    # Both instances read the same tracker from the shared store.
    other = httpx.get(f"{prod.rasa_urls[1]}/conversations/{sender}/tracker", params={"token": prod.rasa_token},
                      timeout=30).json()
    assert len(other["events"]) == len(tracker["events"]) and other["slots"] == tracker["slots"]
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"][0].endswith("想换一双")
    comparable_slots = {k: v for k, v in tracker["slots"].items() if k not in ("order_id", "case_id", "buyer_id")}
    assert comparable_slots == {k: v for k, v in one_tracker["slots"].items()
                                if k not in ("order_id", "case_id", "buyer_id")}


def test_concurrent_messages_of_one_conversation_are_handled_one_after_the_other(prod: ProdStack) -> None:
    buyer = Buyer(prod)
    sender = f"web:{buyer.buyer_id}"
    questions = ["七天无理由退货怎么算", "退货运费谁出", "退款多久到账", "什么商品不能退", "保修怎么弄", "需要什么凭证"]
    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(lambda iq: say(prod.rasa_urls[iq[0] % 2], sender, buyer.buyer_id, iq[1]),
                                enumerate(questions)))
    assert all(answers)
    events = httpx.get(f"{prod.rasa_urls[0]}/conversations/{sender}/tracker", params={"token": prod.rasa_token},
                       timeout=30).json()["events"]
    users = [i for i, e in enumerate(events) if e["event"] == "user"]
    assert sorted(events[i]["text"] for i in users) == sorted(questions)
    for start, end in zip(users, users[1:] + [len(events)]):
        turn = events[start:end]
        # Each message got its own answer and its turn ended before the next message was read.
        assert any(e["event"] == "bot" for e in turn), turn
        assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen", turn


def test_a_buyer_through_the_gateway_gets_each_answer_after_its_own_message(prod: ProdStack) -> None:
    buyer_id = f"b_{uuid.uuid4().hex[:10]}"
    token = tokens.issue(prod.env["WIDGET_TOKEN_SECRET"], buyer_id, datetime.now(timezone.utc), 1)
    questions = ["你好", "七天无理由退货怎么算", "退货运费谁出", "退款多久到账"]
    ws_url = prod.backend_url.replace("http", "ws") + "/gateway/ws"
    with connect(ws_url, origin=prod.backend_url) as ws:
        ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
        for i, question in enumerate(questions):
            ws.send(json.dumps({"type": "message", "client_id": f"q-{i}", "text": question}))
        acks, answered, deadline = set(), 0, time.monotonic() + 90
        while (len(acks) < len(questions) or answered < len(questions)) and time.monotonic() < deadline:
            frame = json.loads(ws.recv(timeout=max(1, deadline - time.monotonic())))
            if frame["type"] == "ack":
                acks.add(frame["client_id"])
            elif frame["type"] == "typing" and not frame["on"]:
                answered += 1
    service = {"Authorization": f"Bearer {prod.env['CASE_API_TOKEN']}"}
    log = httpx.get(f"{prod.backend_url}/api/v1/conversations/web:{buyer_id}/messages", headers=service,
                    timeout=30).json()["messages"]
    authors = [m["author"] for m in log]
    assert [m["text"] for m in log if m["author"] == "buyer"] == questions  # in order, once each
    assert [m["seq"] for m in log] == list(range(1, len(log) + 1))
    # buyer, bot…, buyer, bot…: every message is answered before the next one is taken.
    runs = "".join("B" if a == "buyer" else "b" for a in authors)
    assert re.fullmatch(r"(Bb+){4}", runs), runs


def test_the_deadline_sweep_runs_once_across_the_backend_workers(prod: ProdStack) -> None:
    buyer = Buyer(prod)
    case_ids = []
    for _ in range(12):
        order = buyer.order()
        filed = buyer.api("POST", "/cases", json={"order_id": order, "item_id": "1", "buyer_id": buyer.buyer_id,
                                                  "reason": "quality", "remedy": "exchange"})
        assert filed.status_code == 201, filed.text
        case_ids.append(filed.json()["case_id"])
    engine = create_engine(prod.env["DATABASE_URL"])
    with engine.begin() as conn:  # the buyer's time to send the proofs ran out an hour ago
        conn.execute(text("UPDATE cases SET due_at = :past WHERE case_id = ANY(:ids)"),
                     {"past": datetime.now(timezone.utc) - timedelta(hours=1), "ids": case_ids})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = {buyer.api("GET", f"/cases/{c}").json()["status"] for c in case_ids}
        if statuses == {"closed_timeout"}:
            break
        time.sleep(1)
    assert statuses == {"closed_timeout"}
    time.sleep(3)  # a few more sweeps by both workers
    with engine.connect() as conn:
        counts = dict(conn.execute(text(
            "SELECT case_id, count(*) FROM case_events WHERE action = 'timeout' AND case_id = ANY(:ids) "
            "GROUP BY case_id"), {"ids": case_ids}).all())
        holders = conn.execute(text("SELECT count(*) FROM scheduler_leases")).scalar_one()
    engine.dispose()
    assert counts == {c: 1 for c in case_ids}
    assert holders == 1


def test_production_mode_refuses_development_defaults_and_missing_settings(tmp_path: Any) -> None:
    assert problems({**secrets_env(), "DATABASE_URL": "postgresql+psycopg://u@h/db",
                     "RASA_TRACKER_DB_URL": "postgresql://u@h/r", "REDIS_URL": "redis://h:6379/0"}) == []
    found = problems({"DATABASE_URL": "sqlite:///var/cases.db", "CASE_API_TOKEN": "dev-service-token",
                      "WIDGET_TOKEN_SECRET": "short", "REDIS_URL": "redis://h:6379/0"})
    assert any(p.startswith("DATABASE_URL") for p in found)
    assert any(p.startswith("RASA_TRACKER_DB_URL") for p in found)
    assert "CASE_API_TOKEN is the development default: set a secret of your own" in found
    assert "WIDGET_TOKEN_SECRET is too short: at least 32 characters" in found
    assert any(p.startswith("RASA_TOKEN must be set") for p in found)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RASA_TOKEN", "REDIS_URL")}
    done = subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "scripts/prod.py")], cwd=tmp_path,
                          env={**env, "CASE_API_TOKEN": "dev-service-token"}, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "production mode refuses to start" in done.stderr and "CASE_API_TOKEN is the development default" in done.stderr


def test_rasa_endpoints_keep_passwords_in_the_environment() -> None:
    written = rasa_endpoints(5055, "postgresql://rasa:p%40ss@db.internal:6543/trackers",
                             "redis://:r3dis@cache.internal:6380/2", "after-sales")
    assert "p@ss" not in written and "r3dis" not in written
    assert '  password: "${RASA_TRACKER_DB_PASSWORD}"' in written and '  password: "${REDIS_PASSWORD}"' in written
    assert 'url: "db.internal"' in written and "port: 6543" in written and 'db: "trackers"' in written
    assert 'url: "cache.internal"' in written and "port: 6380" in written and "db: 2" in written
    assert 'key_prefix: "aftersalesrasa"' in written
