"""The access token: fetched once and shared (by concurrent callers, and by workers through the
database), refreshed before it expires and when WeChat says it is no good (40001, 42001)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from backend.channels.wechat.api import WechatApi, WechatApiError
from backend.db.models import WechatAccessToken
from tests.wechat.conftest import OPENID, PLAIN, SHOP, Wx


def _run(wx: Wx, fn: Any, *args: Any) -> Any:
    portal = wx.client.portal
    assert portal is not None
    return portal.call(fn, *args)


def _worker(wx: Wx, account: str = "shop") -> tuple[WechatApi, httpx.AsyncClient]:
    """Another worker's client of the same account: its own HTTP client and lock, the same database."""
    settings = wx.api.settings
    http = httpx.AsyncClient(base_url=wx.fake.url, timeout=5)
    api = WechatApi(settings.wechat_accounts[account], http, wx.app.state.session_factory, wx.clock,
                    margin_seconds=settings.wechat_token_margin_seconds, lease_seconds=settings.wechat_token_lease_seconds)
    return api, http


def test_two_concurrent_callers_get_one_token_fetched_once(wx: Wx) -> None:
    wx.fake.token_delay = 0.3
    api = wx.adapter.apis["shop"]

    async def both() -> list[str]:
        return list(await asyncio.gather(api.access_token(), api.access_token()))
    first, second = _run(wx, both)
    assert first == second and wx.fake.token_requests == [SHOP["app_id"]]
    assert _run(wx, api.access_token) == first and len(wx.fake.token_requests) == 1


def test_two_workers_share_the_token_through_the_database(wx: Wx) -> None:
    wx.fake.token_delay = 0.3
    (one, http_one), (two, http_two) = _worker(wx), _worker(wx)

    async def both() -> list[str]:
        try:
            return list(await asyncio.gather(one.access_token(), two.access_token()))
        finally:
            await http_one.aclose()
            await http_two.aclose()
    first, second = _run(wx, both)
    assert first == second and wx.fake.token_requests == [SHOP["app_id"]]
    with wx.db() as session:
        [row] = session.scalars(select(WechatAccessToken)).all()
        assert (row.app_id, row.token, row.version, row.refreshing_until) == (SHOP["app_id"], first, 1, None)


def test_each_account_has_its_own_token(wx: Wx) -> None:
    shop, plain = _run(wx, wx.adapter.apis["shop"].access_token), _run(wx, wx.adapter.apis["plain"].access_token)
    assert shop != plain and wx.fake.token_requests == [SHOP["app_id"], PLAIN["app_id"]]


def test_the_token_is_refreshed_shortly_before_it_expires(wx: Wx) -> None:
    api = wx.adapter.apis["shop"]
    first = _run(wx, api.access_token)
    wx.clock.advance(seconds=7200 - 301)  # WeChat says 7200 s; we refresh 300 s early
    assert _run(wx, api.access_token) == first
    wx.clock.advance(seconds=2)
    second = _run(wx, api.access_token)
    assert second != first and len(wx.fake.token_requests) == 2


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_a_token_wechat_refuses_is_refreshed_and_the_message_sent_once(wx: Wx, errcode: int) -> None:
    api = wx.adapter.apis["shop"]
    first = _run(wx, api.access_token)
    if errcode == 42001:
        wx.fake.expire_tokens()  # expired early (refreshed elsewhere, or WeChat's own reasons)
    else:
        wx.fake.send_errors = [40001]
    _run(wx, api.send_text, OPENID, "您好")
    [sent] = wx.fake.sent
    assert sent.content == "您好" and sent.token != first
    assert len(wx.fake.token_requests) == 2


def test_other_api_errors_are_raised_not_retried(wx: Wx, caplog: pytest.LogCaptureFixture) -> None:
    api = wx.adapter.apis["shop"]
    wx.fake.send_errors = [45015]  # the user has not written in 48 hours
    with pytest.raises(WechatApiError) as raised:
        _run(wx, api.send_text, OPENID, "进度更新")
    assert raised.value.errcode == 45015 and wx.fake.sent == [] and len(wx.fake.token_requests) == 1
    # through the channel the same refusal is a log line, and the next message goes out
    wx.bound()
    wx.fake.send_errors = [45015]
    with caplog.at_level(logging.WARNING, "backend.channels.wechat"):
        _run(wx, wx.adapter.deliver, OPENID, {"author": "system", "text": "进度更新", "buttons": [], "seq": 1})
    assert "45015" in caplog.text
    _run(wx, wx.adapter.deliver, OPENID, {"author": "system", "text": "再试一次", "buttons": [], "seq": 2})
    assert [s.content for s in wx.fake.sent] == ["再试一次"]


def test_a_wrong_app_secret_is_an_error_and_leaves_no_lease_behind(wx: Wx) -> None:
    settings = wx.api.settings
    wrong = settings.wechat_accounts["plain"].model_copy(update={"app_secret": SecretStr("definitely-wrong-secret")})
    http = httpx.AsyncClient(base_url=wx.fake.url, timeout=5)
    api = WechatApi(wrong, http, wx.app.state.session_factory, wx.clock, margin_seconds=300, lease_seconds=15)
    with pytest.raises(WechatApiError) as raised:
        _run(wx, api.access_token)
    _run(wx, http.aclose)
    assert raised.value.errcode == 40125
    with wx.db() as session:
        row = session.get(WechatAccessToken, PLAIN["app_id"])
        assert row is not None and row.refreshing_until is None and row.token is None
    assert _run(wx, wx.adapter.apis["plain"].access_token).startswith("tok-")  # the right secret still works
