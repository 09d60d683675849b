"""Who may call the API: the service token, buyers acting through it, and agents with a login session.

Agent sessions live in the shared TestClient's cookie jar; every test here clears it afterwards so
no login leaks into another test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from backend.agents import create_agent
from backend.db.models import Agent, AgentSession
from backend.errors import ServiceError
from backend.settings import DEV_API_TOKEN, Settings
from tests.support.api import Api

AUTH_REQUIRED = {"detail": "需要登录或提供服务令牌"}
LOGIN_FAILED = {"detail": "用户名或密码错误"}
NOT_LOGGED_IN = {"detail": "请先登录"}
PASSWORD = "correct-horse-battery"


@pytest.fixture
def agents(api: Api) -> Iterator[Api]:
    """The api fixture with one agent account, `li_agent`, and an empty cookie jar before and after."""
    api.client.cookies.clear()
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        create_agent(session, "li_agent", PASSWORD, display_name="李客服", role="agent", now=api.clock.now)
        session.commit()
    try:
        yield api
    finally:
        api.client.cookies.clear()


def _count(api: Api, model: type) -> int:
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return session.scalar(select(func.count()).select_from(model)) or 0


def _login(api: Api, username: str = "li_agent", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/auth/login", json={"username": username, "password": password})


def _pending_review_case(api: Api) -> str:
    """An expensive item returned without reason: allowed and complete, but a person must approve it."""
    api.order(items=[{"item_id": "1", "sku": "CAM-1", "title": "微单相机", "category": "electronics",
                      "quantity": 1, "unit_price": "6000.00"}])
    response = api.file(reason="no_reason", remedy="return_refund", materials=[{"code": "intact_confirmation"}])
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_review"
    return response.json()["case_id"]


# ---------------------------------------------------------------- the service token


def test_a_call_without_any_token_is_refused_with_401(api: Api) -> None:
    api.client.cookies.clear()
    for method, path in (("get", "/api/v1/cases"), ("get", "/api/v1/orders/2026111812345678"),
                         ("post", "/api/v1/eligibility"), ("post", "/api/v1/uploads")):
        response = getattr(api.client, method)(path)
        assert response.status_code == 401, (path, response.text)
        assert response.json() == AUTH_REQUIRED


def test_a_wrong_or_malformed_token_is_refused_with_401(api: Api) -> None:
    api.client.cookies.clear()
    for authorization in ("Bearer wrong-token", "Bearer ", "Bearer test-service-token-012345678",  # one char short
                          "Basic dGVzdDp0ZXN0", "test-service-token-0123456789", "Bearer ' OR '1'='1"):
        response = api.client.get("/api/v1/cases", headers={"Authorization": authorization})
        assert response.status_code == 401, (authorization, response.text)
        assert response.json() == AUTH_REQUIRED


def test_a_wrong_token_is_refused_before_the_buyer_header_is_even_looked_at(api: Api) -> None:
    response = api.client.get("/api/v1/cases", headers={"Authorization": "Bearer nope", "X-Buyer-Id": "b 1"})
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


@pytest.mark.parametrize("buyer_id", ["b 1001", "b_1001'--", "<script>", "b/1001", "", "x" * 65, "买家"])
def test_a_buyer_header_with_characters_outside_the_id_format_is_refused(api: Api, buyer_id: str) -> None:
    response = api.client.get("/api/v1/cases", headers={**api.service, "X-Buyer-Id": buyer_id.encode()})
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": "X-Buyer-Id 格式不正确"}


def test_a_buyer_acting_through_the_service_cannot_write_orders(api: Api) -> None:
    response = api.client.put("/api/v1/orders/2026111812345678", headers=api.buyer(), json=_order_body())
    assert response.status_code == 403
    assert response.json() == {"detail": "没有权限执行此操作"}
    assert api.client.get("/api/v1/orders/2026111812345678", headers=api.service).status_code == 404


def test_a_buyer_cannot_approve_their_own_case_by_claiming_to_be_the_platform(api: Api) -> None:
    case_id = _pending_review_case(api)
    events = len(api.case(case_id)["events"])
    response = api.act(case_id, "approve", headers=api.buyer(), actor_role="platform")
    assert response.status_code == 403
    assert response.json() == {"detail": "您无权执行“审核通过”操作"}
    after = api.case(case_id)
    assert after["status"] == "pending_review" and len(after["events"]) == events


# ---------------------------------------------------------------- agents


def test_an_agent_logs_in_and_gets_an_http_only_strict_same_site_cookie(agents: Api) -> None:
    response = _login(agents)
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "li_agent", "display_name": "李客服", "role": "agent"}
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("agent_session=") and len(attributes[0]) > len("agent_session=") + 30
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert f"max-age={agents.settings.agent_session_hours * 3600}" in attributes
    me = agents.client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "li_agent"


def test_the_session_is_stored_by_hash_so_the_table_never_holds_the_cookie_value(agents: Api) -> None:
    _login(agents)
    token = agents.client.cookies.get("agent_session")
    with agents.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        hashes = session.scalars(select(AgentSession.token_hash)).all()
    assert len(hashes) == 1
    assert token and token not in hashes[0]


def test_a_logged_in_agent_reads_any_buyers_case_and_approves_one_pending_review(agents: Api) -> None:
    case_id = _pending_review_case(agents)
    assert _login(agents).status_code == 200
    read = agents.client.get(f"/api/v1/cases/{case_id}")  # the cookie only, no service token
    assert read.status_code == 200, read.text
    assert read.json()["buyer_id"] == "b_1001"
    approved = agents.client.post(f"/api/v1/cases/{case_id}/transitions", json={"action": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "awaiting_return"
    approve = [e for e in approved.json()["events"] if e["action"] == "approve"]
    assert len(approve) == 1
    assert (approve[0]["actor_role"], approve[0]["actor_id"]) == ("agent", "li_agent")


def test_an_agent_cannot_pose_as_the_platform_through_actor_role(agents: Api) -> None:
    case_id = _pending_review_case(agents)
    _login(agents)
    approved = agents.client.post(f"/api/v1/cases/{case_id}/transitions",
                                  json={"action": "approve", "actor_role": "platform"})
    assert approved.status_code == 200, approved.text
    approve = next(e for e in approved.json()["events"] if e["action"] == "approve")
    assert (approve["actor_role"], approve["actor_id"]) == ("agent", "li_agent")


def test_an_agent_cannot_write_orders_which_is_the_feeds_job(agents: Api) -> None:
    _login(agents)
    response = agents.client.put("/api/v1/orders/2026111812345678", json=_order_body())
    assert response.status_code == 403
    assert response.json() == {"detail": "没有权限执行此操作"}


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(agents: Api) -> None:
    wrong = _login(agents, password="not-the-password")
    unknown = _login(agents, username="nobody_here")
    empty_password_of_unknown = _login(agents, username="ghost", password="x")
    assert wrong.status_code == unknown.status_code == empty_password_of_unknown.status_code == 401
    assert wrong.json() == unknown.json() == empty_password_of_unknown.json() == LOGIN_FAILED
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    assert _count(agents, AgentSession) == 0
    assert agents.client.get("/api/v1/auth/me").json() == NOT_LOGGED_IN


@pytest.mark.parametrize("username", ["li_agent' OR '1'='1", "li_agent\x00", "<script>alert(1)</script>",
                                      "li_agent\u200b", "x" * 64])
def test_hostile_usernames_are_a_plain_failed_login(agents: Api, username: str) -> None:
    response = _login(agents, username=username)
    assert response.status_code in (401, 422), response.text
    if response.status_code == 401:
        assert response.json() == LOGIN_FAILED
    else:
        assert response.json()["detail"] == "请求内容不正确"
    assert _count(agents, AgentSession) == 0
    assert _login(agents).status_code == 200  # and the table still works


def test_a_login_body_with_unknown_fields_or_missing_password_is_refused(agents: Api) -> None:
    for body in ({"username": "li_agent"}, {"username": "li_agent", "password": PASSWORD, "role": "supervisor"},
                 {"username": "", "password": PASSWORD}, {"username": "li_agent", "password": "x" * 257}):
        response = agents.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"] == "请求内容不正确"
    assert _count(agents, AgentSession) == 0


def test_create_agent_refuses_a_password_shorter_than_ten_characters(api: Api) -> None:
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        with pytest.raises(ServiceError) as refused:
            create_agent(session, "short_pw", "123456789", display_name="短密码", role="agent", now=api.clock.now)
        session.commit()
    assert refused.value.status_code == 422
    assert refused.value.message == "密码至少需要 10 个字符"
    assert _count(api, Agent) == 0
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        create_agent(session, "ten_pw", "1234567890", display_name="十位", role="agent", now=api.clock.now)
        session.commit()
    assert _count(api, Agent) == 1


def test_the_stored_password_is_an_argon2_hash_and_never_the_password(agents: Api) -> None:
    with agents.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        stored = session.scalars(select(Agent.password_hash).where(Agent.username == "li_agent")).one()
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored


def test_logging_out_ends_the_session_on_the_server_and_the_old_cookie_is_refused(agents: Api) -> None:
    case_id = _pending_review_case(agents)
    _login(agents)
    old = agents.client.cookies.get("agent_session")
    assert old
    response = agents.client.post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert "agent_session=" in response.headers["set-cookie"]  # the browser is told to forget it too
    assert _count(agents, AgentSession) == 0
    agents.client.cookies.clear()
    agents.client.cookies.set("agent_session", old)  # replaying the cookie value a browser once held
    me = agents.client.get("/api/v1/auth/me")
    assert me.status_code == 401 and me.json() == NOT_LOGGED_IN
    read = agents.client.get(f"/api/v1/cases/{case_id}")
    assert read.status_code == 401 and read.json() == AUTH_REQUIRED
    approve = agents.client.post(f"/api/v1/cases/{case_id}/transitions", json={"action": "approve"})
    assert approve.status_code == 401
    assert agents.case(case_id)["status"] == "pending_review"


def test_a_session_expires_after_agent_session_hours(agents: Api) -> None:
    case_id = _pending_review_case(agents)
    _login(agents)
    hours = agents.settings.agent_session_hours
    agents.clock.advance(hours=hours, seconds=-1)
    assert agents.client.get("/api/v1/auth/me").status_code == 200
    assert agents.client.get(f"/api/v1/cases/{case_id}").status_code == 200
    agents.clock.advance(seconds=1)
    me = agents.client.get("/api/v1/auth/me")
    assert me.status_code == 401 and me.json() == NOT_LOGGED_IN
    read = agents.client.get(f"/api/v1/cases/{case_id}")
    assert read.status_code == 401 and read.json() == AUTH_REQUIRED


def test_a_made_up_session_cookie_is_refused(agents: Api) -> None:
    agents.client.cookies.set("agent_session", "made-up-token-value")
    assert agents.client.get("/api/v1/auth/me").json() == NOT_LOGGED_IN
    response = agents.client.get("/api/v1/cases")
    assert response.status_code == 401 and response.json() == AUTH_REQUIRED


def test_a_deactivated_agents_session_stops_working(agents: Api) -> None:
    _login(agents)
    with agents.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.scalars(select(Agent).where(Agent.username == "li_agent")).one().active = False
        session.commit()
    response = agents.client.get("/api/v1/cases")
    assert response.status_code == 401 and response.json() == AUTH_REQUIRED
    assert _login(agents).json() == LOGIN_FAILED


# ---------------------------------------------------------------- settings


def test_production_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASE_API_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="CASE_API_TOKEN"):
        Settings(APP_ENV="production")
    with pytest.raises(ValidationError, match="CASE_API_TOKEN"):
        Settings(APP_ENV="production", CASE_API_TOKEN=DEV_API_TOKEN)


def test_production_refuses_a_short_token_and_accepts_a_long_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASE_API_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="CASE_API_TOKEN"):
        Settings(APP_ENV="production", CASE_API_TOKEN="short-secret")
    with pytest.raises(ValidationError, match="CASE_API_TOKEN"):
        Settings(APP_ENV="production", CASE_API_TOKEN="x" * 23)
    token = "Zq8v2LkP0rT5wY7nB3mC6dF9gH1jK4sX"
    assert len(token) == 32
    secret = "widget-" + token
    settings = Settings(APP_ENV="production", CASE_API_TOKEN=token, WIDGET_TOKEN_SECRET=secret)
    assert settings.case_api_token.get_secret_value() == token
    assert Settings(APP_ENV="development", CASE_API_TOKEN=DEV_API_TOKEN).app_env == "development"


def test_production_refuses_the_development_widget_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIDGET_TOKEN_SECRET", raising=False)
    token = "Zq8v2LkP0rT5wY7nB3mC6dF9gH1jK4sX"
    with pytest.raises(ValidationError, match="WIDGET_TOKEN_SECRET"):
        Settings(APP_ENV="production", CASE_API_TOKEN=token)
    with pytest.raises(ValidationError, match="WIDGET_TOKEN_SECRET"):
        Settings(APP_ENV="production", CASE_API_TOKEN=token, WIDGET_TOKEN_SECRET="s" * 31)
    assert Settings(APP_ENV="production", CASE_API_TOKEN=token, WIDGET_TOKEN_SECRET="s" * 32).app_env == "production"


def _order_body() -> dict:
    return {"order_id": "2026111812345678", "buyer_id": "b_1001", "status": "shipped",
            "paid_at": "2026-11-15T10:00:00+08:00", "shipped_at": "2026-11-16T10:00:00+08:00",
            "items": [{"item_id": "1", "sku": "S-1", "title": "商品", "quantity": 1, "unit_price": "10.00"}]}
