"""The fake backend stays true to the real one: same methods as the client, bodies the API can produce."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from actions.backend_client import BackendClient
from backend.api.routes.policy import Vocabulary
from backend.schemas.cases import CaseList, CaseOut, Progress
from backend.schemas.decisions import DecisionBody
from backend.schemas.handoffs import HandoffOut
from backend.schemas.orders import OrderList, OrderOut

BACKEND_DATA = Path(__file__).resolve().parent / "data" / "backend"
SCHEMA_BY_PREFIX: list[tuple[str, type[BaseModel]]] = [
    ("order_", OrderOut), ("buyer_orders", OrderList), ("vocabulary", Vocabulary), ("decision_", DecisionBody),
    ("case_list", CaseList), ("case_", CaseOut), ("progress_", Progress), ("handoff", HandoffOut),
]
CLIENT_METHODS = sorted(name for name, _ in inspect.getmembers(BackendClient, inspect.isfunction)
                        if not name.startswith("_"))


def _schema_for(name: str) -> type[BaseModel]:
    return next(schema for prefix, schema in SCHEMA_BY_PREFIX if name.startswith(prefix))


def test_the_client_has_the_methods_the_fake_imitates() -> None:
    assert CLIENT_METHODS == ["add_materials", "buyer_orders", "case", "eligibility", "file_case",
                              "handoff", "open_cases", "order", "progress", "transition", "vocabulary"]


@pytest.mark.parametrize("method", CLIENT_METHODS)
def test_the_fake_backend_has_each_client_method_with_the_same_parameters(method: str, backend: Any) -> None:
    real = inspect.signature(getattr(BackendClient, method)).parameters
    fake = inspect.signature(getattr(type(backend), method)).parameters
    assert [(p.name, p.kind, p.default) for p in fake.values()] == [(p.name, p.kind, p.default) for p in real.values()]


@pytest.mark.parametrize("path", sorted(p for p in BACKEND_DATA.glob("*.json") if p.stem != "errors"),
                         ids=lambda p: p.stem)
def test_each_canned_answer_is_a_valid_body_of_the_real_api(path: Any, canned: Any) -> None:
    body = canned(path.stem)
    _schema_for(path.stem).model_validate(body)


def test_each_canned_error_is_a_4xx_with_a_chinese_detail(canned: Any) -> None:
    errors = canned("errors")
    assert errors, "no canned errors"
    for name, stored in errors.items():
        assert 400 <= stored["status"] < 500, name
        detail = stored["body"]["detail"]
        assert isinstance(detail, str) and re.search(r"[\u4e00-\u9fff]", detail), name
