"""Fixtures for the chat gateway tests: the real app on SQLite and PostgreSQL, talking to a fake Rasa.

One app per database for the whole session (like tests/conftest.py's `app_client`), with the status
push loop off (the push tests call `deliver_pending` or build their own app with the loop on) and
RASA_URL pointing at `FakeRasa`. The `gw` fixture starts each test from empty tables, a frozen
clock, a fresh Rasa script, empty rate limiters and an empty cookie jar.

Agent passwords are hashed with cheap argon2 parameters here: the real ones cost about a second
per hash on a CI box, and these tests log agents in often. Login still runs the real code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend import agents
from backend.db.migrate import upgrade
from backend.db.models import Base
from backend.gateway import tokens
from backend.gateway.relay import RateLimiter
from backend.main import create_app
from backend.settings import Settings
from tests.gateway.helpers import FakeRasa, Frame, Socket
from tests.support.api import NOW, TOKEN, Api, Clock
from tests.support.databases import drop_postgres, fresh_postgres_url

ORIGIN = "http://testserver"  # the TestClient's host: the console's own origin
AGENT_PASSWORD = "agent-password-2026"
BUYER = "b_1001"
CONVERSATION = f"web:{BUYER}"
MESSAGE_BURST = 12
UPLOAD_BURST = 5


def gateway_settings(database_url: str, tmp: Path, rasa_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url, "UPLOAD_DIR": tmp / "uploads", "CASE_API_TOKEN": TOKEN,
        "SCHEDULER_ENABLED": False, "APP_ENV": "test", "MAX_UPLOAD_BYTES": 2 * 1024 * 1024, "PUSH_ENABLED": False,
        "RASA_URL": rasa_url, "RASA_TIMEOUT_SECONDS": 5, "MESSAGE_BURST": MESSAGE_BURST, "UPLOAD_BURST": UPLOAD_BURST,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="package", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agents, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(scope="session")
def fake_rasa() -> Iterator[FakeRasa]:
    rasa = FakeRasa()
    yield rasa
    rasa.close()


@dataclass
class GatewayApp:
    client: TestClient
    clock: Clock
    settings: Settings
    url: str
    tmp: Path


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def gateway_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                fake_rasa: FakeRasa) -> Iterator[GatewayApp]:
    tmp = tmp_path_factory.mktemp(f"gateway-{request.param}")
    url = f"sqlite:///{tmp / 'cases.db'}" if request.param == "sqlite" else fresh_postgres_url("gateway")
    upgrade(url)
    settings = gateway_settings(url, tmp, fake_rasa.url)
    clock = Clock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield GatewayApp(client, clock, settings, url, tmp)
    if request.param == "postgresql":
        drop_postgres(url)


@dataclass
class Gateway:
    """The app, the fake Rasa, and the moves every gateway test makes."""

    api: Api
    rasa: FakeRasa
    home: GatewayApp

    @property
    def client(self) -> TestClient:
        return self.api.client

    @property
    def app(self) -> FastAPI:
        return self.api.client.app  # type: ignore[return-value]

    @property
    def clock(self) -> Clock:
        return self.api.clock

    @property
    def settings(self) -> Settings:
        return self.api.settings

    @property
    def service(self) -> dict[str, str]:
        return self.api.service

    def db(self) -> Session:
        return self.app.state.session_factory()

    # -- buyers ----------------------------------------------------------------------------------

    def token(self, buyer_id: str = BUYER, hours: float = 1) -> str:
        """A widget token as the shop's site signs it."""
        return tokens.issue(self.settings.widget_token_secret.get_secret_value(), buyer_id, self.clock.now, hours)

    def anonymous(self) -> Frame:
        response = self.client.post("/gateway/anonymous")
        assert response.status_code == 201, response.text
        return response.json()

    @contextmanager
    def socket(self, path: str = "/gateway/ws", headers: dict[str, str] | None = None,
               client: TestClient | None = None) -> Iterator[Socket]:
        """A connected socket (to this app, or to another `client`) that has said nothing yet."""
        with (client or self.client).websocket_connect(path, headers=dict(headers or {})) as ws:
            yield Socket(ws)

    @contextmanager
    def buyer(self, buyer_id: str = BUYER, *, token: str | None = None, last_seq: int = 0,
              client: TestClient | None = None) -> Iterator[Socket]:
        """A buyer's socket after hello: `welcome` and `history` already read."""
        with self.socket(client=client) as sock:
            sock.send({"type": "hello", "token": token or self.token(buyer_id), "last_seq": last_seq})
            sock.welcome = sock.expect("welcome")
            sock.history = sock.expect("history")["messages"]
            yield sock

    def upload(self, data: bytes, *, name: str = "photo.jpg", token: str | None = None,
               mime: str = "image/jpeg") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/gateway/uploads", files={"file": (name, data, mime)}, headers=headers)

    # -- the log and the queue -------------------------------------------------------------------

    def transcript(self, conversation_id: str = CONVERSATION) -> list[Frame]:
        response = self.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.service)
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def handoffs(self, *statuses: str) -> Frame:
        query = "&".join(f"status={s}" for s in statuses)
        response = self.client.get(f"/api/v1/handoffs?{query}", headers=self.service)
        assert response.status_code == 200, response.text
        return response.json()

    def open_handoff(self, conversation_id: str = CONVERSATION, buyer_id: str | None = BUYER,
                     reason: str = "requested", summary: str = "买家要求人工：鞋底开胶") -> Frame:
        """What the bot's handoff action does: POST /api/v1/handoffs with the service token."""
        response = self.client.post("/api/v1/handoffs", headers=self.service, json={
            "conversation_id": conversation_id, "channel": "web", "buyer_id": buyer_id, "reason": reason,
            "summary": summary})
        assert response.status_code == 201, response.text
        return response.json()

    # -- agents ----------------------------------------------------------------------------------

    def agent(self, username: str = "alice", role: str = "agent", display_name: str | None = None) -> dict[str, str]:
        """Create the account, log in; the session cookie as headers (the client's jar stays empty)."""
        with self.db() as session:
            agents.create_agent(session, username, AGENT_PASSWORD, display_name=display_name or username,
                                role=role, now=self.clock.now)
            session.commit()
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": AGENT_PASSWORD})
        assert response.status_code == 200, response.text
        token = response.cookies["agent_session"]
        self.client.cookies.clear()
        return {"Cookie": f"agent_session={token}"}

    @contextmanager
    def console(self, cookie: dict[str, str], *, watch: str | None = None) -> Iterator[Socket]:
        """The agent console's socket, subscribed (and watching `watch`) once this yields."""
        with self.socket("/gateway/agent/ws", headers={"Origin": ORIGIN, **cookie}) as sock:
            if watch:
                sock.send({"type": "watch", "conversation_id": watch})
            sock.sync()
            yield sock

    def claim(self, handoff_id: int, cookie: dict[str, str]) -> Any:
        return self.client.post(f"/api/v1/handoffs/{handoff_id}/claim", headers=cookie)

    def reply(self, text: str, cookie: dict[str, str], conversation_id: str = CONVERSATION,
              client_id: str | None = None) -> Any:
        return self.client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=cookie,
                                json={"client_id": client_id or uuid.uuid4().hex, "text": text})


@pytest.fixture
def gw(gateway_app: GatewayApp, fake_rasa: FakeRasa) -> Iterator[Gateway]:
    client, settings = gateway_app.client, gateway_app.settings
    gateway_app.clock.now = NOW
    app = client.app
    with app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    fake_rasa.reset()
    client.cookies.clear()
    # The limiters count real seconds per conversation/buyer: each test starts with a full allowance.
    app.state.relay.messages = RateLimiter(settings.message_burst, 10.0)  # type: ignore[attr-defined]
    app.state.upload_limiter = RateLimiter(settings.upload_burst, 600.0)  # type: ignore[attr-defined]
    yield Gateway(Api(client, gateway_app.clock, settings), fake_rasa, gateway_app)
    client.cookies.clear()
