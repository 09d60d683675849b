"""GET /metrics: request counters by route template (never raw ids), business gauges read from the
database, the bot's round trips, the optional token, and several worker processes adding up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from backend.db.migrate import upgrade
from backend.db.models import Handoff
from backend.gateway import tokens
from backend.main import create_app
from backend.settings import Settings
from tests.gateway.helpers import Socket
from tests.support.api import TOKEN, Api

ROOT = Path(__file__).resolve().parents[2]
CASE_ROUTE = "/api/v1/cases/{case_id}"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _pending_review_case(api: Api) -> str:
    """An expensive item returned without reason: complete, but a person must approve it (merchant's turn)."""
    api.order("2026111899990001", items=[{"item_id": "1", "sku": "CAM-1", "title": "微单相机",
                                          "category": "electronics", "quantity": 1, "unit_price": "6000.00"}])
    response = api.file(order_id="2026111899990001", reason="no_reason", remedy="return_refund",
                        materials=[{"code": "intact_confirmation"}])
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_review"
    return str(response.json()["case_id"])


def _awaiting_materials_case(api: Api) -> str:
    api.order()
    response = api.file()
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "awaiting_materials"
    return str(response.json()["case_id"])


def test_requests_are_counted_by_route_template_and_status_class_never_by_raw_path(api: Api) -> None:
    case_id = _awaiting_materials_case(api)
    before = scrape(api.client)
    for _ in range(2):
        assert api.client.get(f"/api/v1/cases/{case_id}", headers=api.buyer()).status_code == 200
    assert api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()).status_code == 200
    assert api.client.get("/api/v1/cases/AS2611200000001", headers=api.buyer()).status_code == 404
    assert api.client.get("/no/such/page/7654321").status_code == 404
    response = api.client.get("/metrics")
    after = parse(response.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "aftersales_http_requests_total"
    assert delta(requests, method="GET", route=CASE_ROUTE, status="2xx") == 2
    assert delta(requests, method="GET", route=CASE_ROUTE, status="4xx") == 1
    assert delta(requests, method="GET", route=CASE_ROUTE + "/progress", status="2xx") == 1
    assert delta(requests, method="GET", route="unmatched", status="4xx") == 1
    assert delta("aftersales_http_request_duration_seconds_count", method="GET", route=CASE_ROUTE) == 3
    # No id ever becomes a label value: one series per route, not one per case, order or path.
    for raw in (case_id, "AS2611200000001", "2026111812345678", "7654321", "/no/such/page"):
        assert raw not in response.text
    routes = {dict(labels)["route"] for (name, labels) in after if name == requests}
    assert all(route == "unmatched" or route.startswith("/") for route in routes)


def test_business_gauges_reflect_the_cases_and_handoffs_in_the_database(api: Api) -> None:
    empty = scrape(api.client)
    assert value(empty, "aftersales_business_metrics_up") == 1
    assert value(empty, "aftersales_cases", status="awaiting_materials") == 0
    assert value(empty, "aftersales_handoff_queue", state="open") == 0
    assert value(empty, "aftersales_cases_overdue", party="buyer") == 0

    _awaiting_materials_case(api)  # the buyer's turn: 7 days to send the photos
    _pending_review_case(api)  # the merchant's turn: 1 working day to review
    filed = scrape(api.client)
    assert value(filed, "aftersales_cases", status="awaiting_materials") == 1
    assert value(filed, "aftersales_cases", status="pending_review") == 1
    assert value(filed, "aftersales_cases", status="completed") == 0  # every status has a series
    assert value(filed, "aftersales_cases_overdue", party="buyer") == 0
    assert value(filed, "aftersales_cases_overdue", party="merchant") == 0

    api.clock.advance(days=10)  # both deadlines passed; no scheduler runs in the tests
    late = scrape(api.client)
    assert value(late, "aftersales_cases_overdue", party="buyer") == 1
    assert value(late, "aftersales_cases_overdue", party="merchant") == 1

    for conversation in ("web:b_1001", "web:b_2002"):
        response = api.client.post("/api/v1/handoffs", headers=api.service, json={
            "conversation_id": conversation, "channel": "web", "reason": "requested", "summary": "买家要求人工"})
        assert response.status_code == 201, response.text
    api.clock.advance(minutes=10)
    queued = scrape(api.client)
    assert value(queued, "aftersales_handoff_queue", state="open") == 2
    assert value(queued, "aftersales_handoff_queue", state="claimed") == 0
    assert value(queued, "aftersales_handoff_oldest_wait_seconds") == 600

    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(Handoff).where(Handoff.conversation_id == "web:b_1001")
                        .values(status="claimed", agent="li", claimed_at=api.clock.now))
        session.commit()
    claimed = scrape(api.client)
    assert value(claimed, "aftersales_handoff_queue", state="open") == 1
    assert value(claimed, "aftersales_handoff_queue", state="claimed") == 1


def test_messages_to_the_bot_its_errors_and_round_trips_are_counted(api: Api) -> None:
    """The test apps' RASA_URL refuses connections: the message is relayed, fails, and is counted so."""
    before = scrape(api.client)
    token = tokens.issue(api.settings.widget_token_secret.get_secret_value(), "b_1001", api.clock.now, 1)
    with api.client.websocket_connect("/gateway/ws") as ws:
        sock = Socket(ws)
        sock.send({"type": "hello", "token": token, "last_seq": 0})
        sock.until("history")
        sock.send({"type": "message", "client_id": "m-1", "text": "鞋子开胶了"})
        sock.until(lambda f: f["type"] == "message" and f["message"]["author"] == "system")
    after = scrape(api.client)
    for name in ("aftersales_gateway_bot_messages_total", "aftersales_gateway_bot_errors_total"):
        assert value(after, name) - value(before, name) == 1
    name = "aftersales_gateway_rasa_seconds_count"
    assert value(after, name, outcome="error") - value(before, name, outcome="error") == 1
    assert value(after, name, outcome="ok") == value(before, name, outcome="ok")


def test_metrics_token_is_required_when_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    upgrade(url)
    secret = "metrics-token-0123456789abcdef"
    settings = Settings(DATABASE_URL=url, UPLOAD_DIR=tmp_path / "uploads", CASE_API_TOKEN=TOKEN, APP_ENV="test",
                        SCHEDULER_ENABLED=False, PUSH_ENABLED=False, METRICS_TOKEN=secret)
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "aftersales" not in refused.text
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401  # not the API's
        assert client.get("/metrics", headers={"Authorization": secret}).status_code == 401  # scheme required
        samples = scrape(client, {"Authorization": f"Bearer {secret}"})
        assert value(samples, "aftersales_business_metrics_up") == 1


WRITER = textwrap.dedent("""
    import sys
    from backend.observability import metrics
    requests, ok = int(sys.argv[1]), sys.argv[2] == "ok"
    for _ in range(requests):
        metrics.observe_http("GET", "/api/v1/cases/{case_id}", 200, 0.02)
    metrics.observe_rasa(0.3, ok=ok)
""")
READER = textwrap.dedent("""
    import sys
    from fastapi.testclient import TestClient
    from backend.db.migrate import upgrade
    from backend.main import create_app
    from backend.settings import Settings
    url = "sqlite:///" + sys.argv[1]
    upgrade(url)
    settings = Settings(DATABASE_URL=url, UPLOAD_DIR=sys.argv[2], APP_ENV="test", SCHEDULER_ENABLED=False,
                        PUSH_ENABLED=False)
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
        sys.stdout.write(response.text)
""")


def test_several_worker_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two 'workers' write their counters into one PROMETHEUS_MULTIPROC_DIR at the same time; a third
    process's GET /metrics reports the sums (and the business gauges of its database)."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, count, outcome], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for count, outcome in (("3", "ok"), ("4", "error"))]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    assert len(list(shared.glob("*.db"))) >= 2  # one file per process and metric kind

    reader = subprocess.run([sys.executable, "-c", READER, str(tmp_path / "cases.db"), str(tmp_path / "uploads")],
                            cwd=ROOT, env=env, capture_output=True, timeout=180)
    assert reader.returncode == 0, reader.stderr.decode()
    samples = parse(reader.stdout.decode())
    assert value(samples, "aftersales_http_requests_total", method="GET", route=CASE_ROUTE, status="2xx") == 7
    assert value(samples, "aftersales_http_request_duration_seconds_count", method="GET", route=CASE_ROUTE) == 7
    assert value(samples, "aftersales_gateway_bot_messages_total") == 2
    assert value(samples, "aftersales_gateway_bot_errors_total") == 1
    assert value(samples, "aftersales_gateway_rasa_seconds_count", outcome="ok") == 1
    assert value(samples, "aftersales_gateway_rasa_seconds_count", outcome="error") == 1
    assert value(samples, "aftersales_business_metrics_up") == 1
    assert value(samples, "aftersales_cases", status="awaiting_materials") == 0
