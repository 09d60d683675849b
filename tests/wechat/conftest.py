"""Fixtures for the WeChat channel: the real app (SQLite and PostgreSQL) with two Official Accounts —
`shop` in safe mode, `plain` in plaintext mode — whose API is the fake WeChat server and whose bot is
the fake Rasa of the gateway tests. The `wx` fixture starts each test from empty tables, a frozen
clock, fresh fakes and full rate-limit allowances.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend import agents
from backend.channels.wechat.adapter import WechatAdapter
from backend.db.migrate import upgrade
from backend.db.models import Base, WechatUser
from backend.gateway.relay import RateLimiter
from backend.main import create_app
from backend.settings import Settings
from tests.gateway.helpers import FakeRasa
from tests.support.api import NOW, TOKEN, Api, Clock
from tests.support.databases import drop_postgres, fresh_postgres_url
from tests.wechat.wechat import FakeWechat, encrypt, sha1_sign

SHOP = {"app_id": "wx5823bf96d3bd56c7", "app_secret": "shop-app-secret-0123456789", "token": "QDG6eK",
        "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "mode": "safe", "original_id": "gh_shop"}
PLAIN = {"app_id": "wxplain0000000001", "app_secret": "plain-app-secret-0123456789", "token": "plainToken2026",
         "mode": "plain"}
OPENID = "oWx_buyer_0001"
BUYER = "b_1001"
ORDER = "2026111812345678"
TAIL = "5678"
AGENT_PASSWORD = "agent-password-2026"


@pytest.fixture(scope="package", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agents, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWechat]:
    fake = FakeWechat({SHOP["app_id"]: SHOP["app_secret"], PLAIN["app_id"]: PLAIN["app_secret"]})
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def wechat_rasa() -> Iterator[FakeRasa]:
    rasa = FakeRasa()
    yield rasa
    rasa.close()


def wechat_settings(url: str, tmp: Path, rasa_url: str, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": url, "UPLOAD_DIR": tmp / "uploads", "CASE_API_TOKEN": TOKEN, "SCHEDULER_ENABLED": False,
        "APP_ENV": "test", "MAX_UPLOAD_BYTES": 2 * 1024 * 1024, "PUSH_ENABLED": False, "RASA_URL": rasa_url,
        "RASA_TIMEOUT_SECONDS": 5, "UPLOAD_BURST": 5,
        "WECHAT_ACCOUNTS": {"shop": SHOP, "plain": PLAIN}, "WECHAT_API_BASE": api_url,
        "WECHAT_API_TIMEOUT_SECONDS": 5, "WECHAT_TEXT_MAX_BYTES": 600, "WECHAT_BIND_MAX_FAILURES": 4,
    }
    return Settings(**{**values, **overrides})


@dataclass
class WechatApp:
    client: TestClient
    clock: Clock
    settings: Settings
    url: str


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def wechat_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_wechat: FakeWechat,
               wechat_rasa: FakeRasa) -> Iterator[WechatApp]:
    tmp = tmp_path_factory.mktemp(f"wechat-{request.param}")
    url = f"sqlite:///{tmp / 'cases.db'}" if request.param == "sqlite" else fresh_postgres_url("wechat")
    upgrade(url)
    settings = wechat_settings(url, tmp, wechat_rasa.url, fake_wechat.url)
    clock = Clock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield WechatApp(client, clock, settings, url)
    if request.param == "postgresql":
        drop_postgres(url)


@dataclass
class Wx:
    """The app, the fakes, and WeChat's side of the conversation."""

    api: Api
    fake: FakeWechat
    rasa: FakeRasa

    @property
    def client(self) -> TestClient:
        return self.api.client

    @property
    def app(self) -> Any:
        return self.api.client.app

    @property
    def clock(self) -> Clock:
        return self.api.clock

    @property
    def adapter(self) -> WechatAdapter:
        return self.app.state.wechat  # type: ignore[no-any-return]

    def db(self) -> Session:
        return self.app.state.session_factory()  # type: ignore[no-any-return]

    def timestamp(self) -> str:
        return str(int(self.clock.now.timestamp()))

    # -- WeChat calling the webhook --------------------------------------------------------------

    def query(self, account: str = "shop", *, timestamp: str | None = None, nonce: str | None = None,
              encrypted: str | None = None) -> dict[str, str]:
        config = SHOP if account == "shop" else PLAIN
        timestamp = timestamp or self.timestamp()
        nonce = nonce or str(uuid.uuid4().int % 10**10)
        query = {"signature": sha1_sign(config["token"], timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": OPENID}
        if encrypted is not None:
            query.update(encrypt_type="aes", msg_signature=sha1_sign(config["token"], timestamp, nonce, encrypted))
        return query

    def envelope(self, xml: bytes, account: str = "shop", **query: Any) -> tuple[bytes, dict[str, str]]:
        """The body and query string WeChat would send: encrypted for the safe-mode account."""
        if account != "shop":
            return xml, self.query(account, **query)
        encrypted = encrypt(SHOP["encoding_aes_key"], SHOP["app_id"], xml)
        body = f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return body.encode(), self.query(account, encrypted=encrypted, **query)

    def post(self, xml: bytes, account: str = "shop", **query: Any) -> httpx.Response:
        body, params = self.envelope(xml, account, **query)
        return self.raw(body, params, account)

    def raw(self, body: bytes, params: dict[str, str], account: str = "shop") -> httpx.Response:
        return self.client.post(f"/channels/wechat/{account}", params=params, content=body,
                                headers={"Content-Type": "text/xml"})

    def idle(self) -> None:
        """Waits until the messages the webhook took are handled (the bot answered, the log written)."""
        portal = self.client.portal
        assert portal is not None
        portal.call(self.adapter.idle)

    # -- the backend's side ----------------------------------------------------------------------

    def bound(self, openid: str = OPENID, buyer_id: str = BUYER, account: str = "shop") -> None:
        """An openid already bound to a buyer (what `绑定 …` leaves behind)."""
        with self.db() as session:
            session.add(WechatUser(openid=openid, account=account, buyer_id=buyer_id, bound_order_id=ORDER,
                                   bound_at=self.clock.now, created_at=self.clock.now, updated_at=self.clock.now))
            session.commit()

    def transcript(self, openid: str = OPENID) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/conversations/wechat:{openid}/messages", headers=self.api.service)
        assert response.status_code == 200, response.text
        return response.json()["messages"]  # type: ignore[no-any-return]

    def agent(self, username: str = "alice") -> dict[str, str]:
        with self.db() as session:
            agents.create_agent(session, username, AGENT_PASSWORD, display_name=username, role="agent",
                                now=self.clock.now)
            session.commit()
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": AGENT_PASSWORD})
        assert response.status_code == 200, response.text
        token = response.cookies["agent_session"]
        self.client.cookies.clear()
        return {"Cookie": f"agent_session={token}"}

    def wait(self, predicate: Any, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.01)


@pytest.fixture
def wx(wechat_app: WechatApp, fake_wechat: FakeWechat, wechat_rasa: FakeRasa) -> Iterator[Wx]:
    client, settings = wechat_app.client, wechat_app.settings
    wechat_app.clock.now = NOW
    app = client.app
    with app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    fake_wechat.reset()
    wechat_rasa.reset()
    client.cookies.clear()
    app.state.relay.messages = RateLimiter(settings.message_burst, 10.0)  # type: ignore[attr-defined]
    app.state.upload_limiter = RateLimiter(settings.upload_burst, 600.0)  # type: ignore[attr-defined]
    wx = Wx(Api(client, wechat_app.clock, settings), fake_wechat, wechat_rasa)
    yield wx
    wx.idle()
