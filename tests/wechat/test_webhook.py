"""The webhook's doors: URL verification, signatures, timestamps, replays, bad XML and unknown types.
Whatever fails a check is refused with a log line, handled by nobody and answered to nobody."""

from __future__ import annotations

import logging

import pytest

from tests.wechat.conftest import OPENID, PLAIN, SHOP, Wx
from tests.wechat.wechat import encrypt, event_xml, sha1_sign, text_xml

LOGGER = "backend.channels.wechat"


def _nothing_happened(wx: Wx) -> None:
    wx.idle()
    assert wx.rasa.calls == []
    assert wx.fake.sent == []


@pytest.mark.parametrize("account", ["shop", "plain"])
def test_url_verification_echoes_echostr_only_with_the_right_signature(wx: Wx, account: str) -> None:
    token = (SHOP if account == "shop" else PLAIN)["token"]
    timestamp, nonce = wx.timestamp(), "1372623149"
    good = {"signature": sha1_sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
            "echostr": "5837397520665436492"}
    answer = wx.client.get(f"/channels/wechat/{account}", params=good)
    assert (answer.status_code, answer.text) == (200, "5837397520665436492")
    assert answer.headers["content-type"].startswith("text/plain")

    for bad in ({**good, "signature": sha1_sign("wrong", timestamp, nonce)},
                {**good, "signature": good["signature"].replace(good["signature"][0], "0", 1) if good["signature"][0] != "0"
                 else "1" + good["signature"][1:]},
                {**good, "nonce": "1372623150"},
                {k: v for k, v in good.items() if k != "signature"}):
        answer = wx.client.get(f"/channels/wechat/{account}", params=bad)
        assert answer.status_code in (400, 403) and "5837397520665436492" not in answer.text
    assert wx.client.get("/channels/wechat/nobody", params=good).status_code == 404


def test_url_verification_with_a_stale_timestamp_is_refused(wx: Wx) -> None:
    timestamp, nonce = str(int(wx.clock.now.timestamp()) - 3600), "42"
    answer = wx.client.get("/channels/wechat/plain", params={
        "signature": sha1_sign(PLAIN["token"], timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
        "echostr": "abc"})
    assert answer.status_code == 403 and "abc" not in answer.text


@pytest.mark.parametrize("account", ["shop", "plain"])
def test_a_signed_message_is_taken_and_a_badly_signed_one_is_refused(wx: Wx, account: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    body, query = wx.envelope(text_xml(OPENID, "七天无理由怎么算"), account)
    forged = {**query, "signature": sha1_sign("not-the-token", query["timestamp"], query["nonce"])}
    with caplog.at_level(logging.WARNING, LOGGER):
        refused = wx.raw(body, forged, account)
    assert refused.status_code == 403 and refused.text != "success"
    assert "bad signature" in caplog.text
    _nothing_happened(wx)

    answer = wx.raw(body, query, account)
    assert (answer.status_code, answer.text) == (200, "success")
    wx.idle()
    assert [c["message"] for c in wx.rasa.calls] == ["七天无理由怎么算"]


def test_safe_mode_checks_msg_signature_and_refuses_plaintext(wx: Wx, caplog: pytest.LogCaptureFixture) -> None:
    body, query = wx.envelope(text_xml(OPENID, "你好"))
    with caplog.at_level(logging.WARNING, LOGGER):
        wrong = wx.raw(body, {**query, "msg_signature": sha1_sign("x", "y", "z", "w")})
        plaintext = wx.raw(text_xml(OPENID, "你好"), wx.query("shop"))
        # encrypted for another AppID, correctly signed
        other = encrypt(SHOP["encoding_aes_key"], "wxSomeoneElse00001", text_xml(OPENID, "你好"))
        foreign = wx.raw(f"<xml><Encrypt><![CDATA[{other}]]></Encrypt></xml>".encode(), wx.query(encrypted=other))
        # addressed to another account's original id
        elsewhere = wx.post(text_xml(OPENID, "你好", to="gh_other"))
    assert [r.status_code for r in (wrong, plaintext, foreign, elsewhere)] == [400, 400, 400, 403]
    assert "bad msg_signature" in caplog.text and "plaintext body" in caplog.text
    assert "another AppID" in caplog.text and "another account" in caplog.text
    _nothing_happened(wx)


def test_a_plaintext_account_refuses_encrypted_bodies(wx: Wx) -> None:
    encrypted = encrypt(SHOP["encoding_aes_key"], PLAIN["app_id"], text_xml(OPENID, "你好"))
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    assert wx.raw(body, wx.query("plain", encrypted=encrypted), "plain").status_code == 400
    _nothing_happened(wx)


@pytest.mark.parametrize("skew", [-301, 301, -86400 * 30])
def test_stale_or_future_timestamps_are_refused(wx: Wx, skew: int, caplog: pytest.LogCaptureFixture) -> None:
    timestamp = str(int(wx.clock.now.timestamp()) + skew)
    with caplog.at_level(logging.WARNING, LOGGER):
        answer = wx.post(text_xml(OPENID, "你好"), timestamp=timestamp)
    assert answer.status_code == 403
    assert "stale timestamp" in caplog.text
    _nothing_happened(wx)


def test_a_timestamp_within_the_tolerance_is_fine(wx: Wx) -> None:
    answer = wx.post(text_xml(OPENID, "你好"), timestamp=str(int(wx.clock.now.timestamp()) - 299))
    assert answer.text == "success"
    wx.idle()
    assert len(wx.rasa.calls) == 1


def test_a_replayed_request_is_not_handled_again_and_a_replayed_nonce_with_another_body_is_refused(
        wx: Wx, caplog: pytest.LogCaptureFixture) -> None:
    body, query = wx.envelope(text_xml(OPENID, "第一条"), "plain")
    assert wx.raw(body, query, "plain").text == "success"
    assert wx.raw(body, query, "plain").text == "success"  # the very same request again: taken once
    other = text_xml(OPENID, "换了内容")  # plaintext mode: the signature does not cover the body
    with caplog.at_level(logging.WARNING, LOGGER):
        replay = wx.raw(other, query, "plain")
    assert replay.status_code == 403 and "nonce replayed" in caplog.text
    wx.idle()
    assert [c["message"] for c in wx.rasa.calls] == ["第一条"]


MALFORMED = [
    b"",
    b"not xml at all",
    b"<xml><Content>unclosed</xml>",
    b"<html><body>hi</body></html>",
    (b"<xml><FromUserName>bad openid!</FromUserName><MsgType>text</MsgType><CreateTime>1</CreateTime>"
    b"<MsgId>1</MsgId></xml>"),
    b"<xml><FromUserName>oAbc</FromUserName><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>",
    b"<xml><FromUserName>oAbc</FromUserName><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>",
    # billion laughs: refused at the DTD, never expanded
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;'
    b'&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    b'<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    b"<xml><FromUserName>oAbc</FromUserName><Content>&lol9;</Content></xml>"),
    # an external entity
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><FromUserName>oAbc</FromUserName><Content>&xxe;</Content></xml>"),
]


@pytest.mark.parametrize("account", ["shop", "plain"])
@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_xml_and_entity_attacks_are_refused_without_a_crash(wx: Wx, account: str, payload: bytes,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, LOGGER):
        answer = wx.post(payload, account)
    assert answer.status_code == 400
    assert "refused" in caplog.text
    _nothing_happened(wx)
    assert wx.post(text_xml(OPENID, "还在吗"), account).text == "success"  # the channel still works
    wx.idle()
    assert len(wx.rasa.calls) == 1


def test_a_safe_mode_envelope_with_an_entity_attack_is_refused(wx: Wx) -> None:
    body = MALFORMED[7]
    assert wx.raw(body, wx.query("shop", encrypted="x")).status_code == 400
    _nothing_happened(wx)


def test_an_oversized_body_is_refused(wx: Wx) -> None:
    answer = wx.post(text_xml(OPENID, "长" * 40_000), "plain")
    assert answer.status_code == 413
    _nothing_happened(wx)


@pytest.mark.parametrize("xml", [
    (b"<xml><ToUserName>gh_shop</ToUserName><FromUserName>oAbc</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>location</MsgType><Location_X>23.1</Location_X><MsgId>77</MsgId></xml>"),
    (b"<xml><ToUserName>gh_shop</ToUserName><FromUserName>oAbc</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>hologram</MsgType><MsgId>78</MsgId></xml>"),
])
def test_unknown_message_types_are_ignored_with_success_and_a_log_line(wx: Wx, xml: bytes,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, LOGGER):
        answer = wx.post(xml)
    assert (answer.status_code, answer.text) == (200, "success")
    assert "ignored" in caplog.text
    _nothing_happened(wx)


def test_unknown_events_are_ignored(wx: Wx, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, LOGGER):
        assert wx.post(event_xml(OPENID, "LOCATION")).text == "success"
        assert wx.post(event_xml(OPENID, "CLICK", "NO_SUCH_KEY", at=1700000001)).text == "success"
    assert "ignored" in caplog.text
    _nothing_happened(wx)
