"""Fixtures for the action tests: trackers, a dispatcher, the domain and a fake case backend.

The fake backend has the same methods as `actions.backend_client.BackendClient` and answers with
bodies the real backend produced (tests/actions/data/backend/*.json, checked against the backend's
schemas in test_fake_backend.py). It is patched in as the module-level client that `client()`
returns, for every test of this folder, so no action test can reach a real backend by accident.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client
from actions.backend_client import BackendError, BackendUnavailable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BACKEND_DATA = HERE / "data" / "backend"
TRACKER_DATA = HERE / "data" / "trackers"

BUYER = "b_1001"
SENDER = "web:5f1c2a"
Json = dict[str, Any]


@cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def canned_body(name: str) -> Any:
    """A fresh copy of one stored backend answer (tests may change it freely)."""
    return copy.deepcopy(_read(BACKEND_DATA / f"{name}.json"))


def canned_error(name: str) -> BackendError:
    """The BackendError the real client raises for one stored 4xx answer."""
    stored = canned_body("errors")[name]
    return BackendError(stored["status"], stored["body"]["detail"], stored["body"])


class FakeBackend:
    """Same methods as BackendClient; canned answers shaped like the real API; records every call.

    Set the attributes to change an answer, or `fail(method, exc)` to make a method raise.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.failures: dict[str, Exception] = {}
        self.orders: dict[str, Json] = {
            o["order_id"]: o for o in (canned_body("order_single"), canned_body("order_multi"),
                                       canned_body("order_cancelled"))
        }
        self.buyer_order_list: list[Json] = canned_body("buyer_orders")["orders"]
        self.decision: Json = canned_body("decision_needs_materials")
        self.filed: Json = canned_body("case_awaiting_materials")
        self.cases: dict[str, Json] = {}
        self.open_case_list: list[Json] = canned_body("case_list")["cases"]
        self.progresses: dict[str, Json] = {}
        self.after_materials: Json = canned_body("case_awaiting_return")
        self.after_transition: dict[str, Json] = {}  # by action; a plausible case otherwise
        self.vocab: Json = canned_body("vocabulary")
        self.handoff_answer: Json = canned_body("handoff")

    # ------------------------------------------------------------------ test helpers
    def fail(self, method: str, exc: Exception) -> None:
        self.failures[method] = exc

    def down(self, *methods: str) -> None:
        for method in methods:
            self.fail(method, BackendUnavailable("HTTP 503"))

    def calls_to(self, method: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.calls if name == method]

    def _called(self, method: str, *args: Any) -> None:
        self.calls.append((method, copy.deepcopy(args)))
        if method in self.failures:
            raise self.failures[method]

    # ------------------------------------------------------------------ BackendClient's methods
    def buyer_orders(self, buyer_id: str, limit: int = 5) -> list[Json]:
        self._called("buyer_orders", buyer_id, limit)
        return copy.deepcopy(self.buyer_order_list[:limit])

    def order(self, order_id: str, buyer_id: str | None) -> Json:
        self._called("order", order_id, buyer_id)
        if order_id not in self.orders:
            raise canned_error("order_not_found")
        return copy.deepcopy(self.orders[order_id])

    def eligibility(self, request: Json, buyer_id: str | None) -> Json:
        self._called("eligibility", request, buyer_id)
        return copy.deepcopy(self.decision)

    def file_case(self, request: Json, buyer_id: str | None, idempotency_key: str) -> Json:
        self._called("file_case", request, buyer_id, idempotency_key)
        return copy.deepcopy(self.filed)

    def case(self, case_id: str, buyer_id: str | None) -> Json:
        self._called("case", case_id, buyer_id)
        if case_id not in self.cases:
            raise canned_error("case_not_found")
        return copy.deepcopy(self.cases[case_id])

    def open_cases(self, buyer_id: str) -> list[Json]:
        self._called("open_cases", buyer_id)
        return copy.deepcopy(self.open_case_list)

    def progress(self, case_id: str, buyer_id: str | None) -> Json:
        self._called("progress", case_id, buyer_id)
        if case_id not in self.progresses:
            raise canned_error("case_not_found")
        return copy.deepcopy(self.progresses[case_id])

    def add_materials(self, case_id: str, materials: list[Json], buyer_id: str | None) -> Json:
        self._called("add_materials", case_id, materials, buyer_id)
        return copy.deepcopy(self.after_materials)

    def transition(self, case_id: str, action: str, buyer_id: str | None, **body: Any) -> Json:
        self._called("transition", case_id, action, buyer_id, body)
        if action in self.after_transition:
            return copy.deepcopy(self.after_transition[action])
        case = {**canned_body("case_awaiting_materials"), "case_id": case_id}
        if action == "cancel":
            return {**case, "status": "cancelled", "status_label": "已撤销", "deadline": None}
        return {**case, **({"remedy": body["remedy"]} if "remedy" in body else {})}

    def handoff(self, body: Json, buyer_id: str | None) -> Json:
        self._called("handoff", body, buyer_id)
        return {**self.handoff_answer, **{k: body[k] for k in ("conversation_id", "channel", "buyer_id", "case_id",
                                                                "reason", "summary")}}

    def vocabulary(self) -> Json:
        self._called("vocabulary")
        return copy.deepcopy(self.vocab)


@pytest.fixture(autouse=True)
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    fake = FakeBackend()
    monkeypatch.setattr(backend_client, "_client", fake)
    return fake


@pytest.fixture
def canned() -> Callable[[str], Any]:
    return canned_body


@pytest.fixture
def backend_error() -> Callable[[str], BackendError]:
    return canned_error


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def said(dispatcher: CollectingDispatcher) -> Callable[[], list[tuple[str | None, list[dict[str, Any]]]]]:
    """What the bot said, as (text, buttons) pairs: the two things a buyer sees."""
    return lambda: [(m["text"], m["buttons"]) for m in dispatcher.messages]


@pytest.fixture
def run(dispatcher: CollectingDispatcher, domain: dict[str, Any]) -> Callable[[Action, Tracker], list[dict[str, Any]]]:
    """Runs an action to completion the way the action server does, returning its events."""
    return lambda action, tracker: asyncio.run(action.run(dispatcher, tracker, domain))


def build_tracker(*, text: str = "", intent: str = "inform", entities: Iterable[Json] = (), slots: Json | None = None,
                  metadata: Json | None = None, buyer: str | None = BUYER, sender_id: str = SENDER,
                  active_loop: str | None = None, events: list[Json] | None = None,
                  candidates: Json | None = None) -> Tracker:
    """A tracker whose latest user message is `text`.

    `candidates` are slot values the form extracted this turn: appended as the trailing SlotSet
    events that rasa-sdk's `slots_to_validate()` reads.
    """
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": list(entities),
              "metadata": metadata or {}}
    all_slots = {"buyer_id": buyer, **(slots or {}), **(candidates or {})}
    history = list(events) if events is not None else []
    history.append({"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}})
    history += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    return Tracker(sender_id, all_slots, latest, history, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    return build_tracker


@pytest.fixture
def stored_tracker() -> Callable[[str], Tracker]:
    """A tracker from tests/actions/data/trackers/<name>.json (rasa's tracker state format)."""
    return lambda name: Tracker.from_dict(copy.deepcopy(_read(TRACKER_DATA / f"{name}.json")))
