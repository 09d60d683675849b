"""WeChat's side of the channel, for tests: payloads signed and encrypted the way WeChat's documentation
says (written here from the documented algorithm, not with the backend's code), and a fake WeChat API.

`FakeWechat` is a real HTTP server on 127.0.0.1 (a free port): the backend's own httpx client, token
handling and error paths are exercised. It issues access tokens, answers customer-service messages
(recording them) and serves media downloads; a test can expire tokens, make calls fail or slow the
token endpoint down.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

WAIT = 5.0

# ------------------------------------------------------------------------------------- payloads


def sha1_sign(*parts: str) -> str:
    """signature / msg_signature: sha1 of the sorted parameters, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def encrypt(encoding_aes_key: str, app_id: str, xml: bytes, random16: bytes | None = None) -> str:
    """The documented safe-mode encryption: AES-256-CBC, key = base64decode(EncodingAESKey + "="),
    iv = key[:16], plaintext = 16 random bytes + 4-byte big-endian length + xml + AppID, PKCS#7 to 32."""
    key = base64.b64decode(encoding_aes_key + "=")
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(xml)) + xml + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, encrypted: str) -> tuple[bytes, bytes]:
    """(xml, app_id), the documented way back."""
    key = base64.b64decode(encoding_aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[:-plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + length], plain[20 + length:]


_ids = itertools.count(int(time.time()) * 1000)


def msg_id() -> str:
    return str(next(_ids))


def _xml(fields: dict[str, Any]) -> bytes:
    parts = []
    for tag, value in fields.items():
        parts.append(f"<{tag}>{value}</{tag}>" if isinstance(value, int) else f"<{tag}><![CDATA[{value}]]></{tag}>")
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def text_xml(openid: str, content: str, *, mid: str | None = None, to: str = "gh_shop", at: int = 1700000000) -> bytes:
    return _xml({"ToUserName": to, "FromUserName": openid, "CreateTime": at, "MsgType": "text", "Content": content,
                 "MsgId": int(mid or msg_id())})


def image_xml(openid: str, media_id: str, *, mid: str | None = None, to: str = "gh_shop", at: int = 1700000000) -> bytes:
    return _xml({"ToUserName": to, "FromUserName": openid, "CreateTime": at, "MsgType": "image",
                 "PicUrl": "http://mmbiz.qpic.cn/fake.jpg", "MediaId": media_id, "MsgId": int(mid or msg_id())})


def voice_xml(openid: str, media_id: str, recognition: str, *, mid: str | None = None, to: str = "gh_shop",
              at: int = 1700000000) -> bytes:
    return _xml({"ToUserName": to, "FromUserName": openid, "CreateTime": at, "MsgType": "voice",
                 "MediaId": media_id, "Format": "amr", "Recognition": recognition, "MsgId": int(mid or msg_id())})


def event_xml(openid: str, event: str, key: str = "", *, to: str = "gh_shop", at: int = 1700000000) -> bytes:
    fields: dict[str, Any] = {"ToUserName": to, "FromUserName": openid, "CreateTime": at, "MsgType": "event",
                              "Event": event}
    if key:
        fields["EventKey"] = key
    return _xml(fields)


# ------------------------------------------------------------------------------------- fake API


@dataclass
class Sent:
    touser: str
    msgtype: str
    content: str
    token: str
    raw: bytes


class FakeWechat:
    """GET /cgi-bin/token, POST /cgi-bin/message/custom/send, GET /cgi-bin/media/get."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets  # app_id → app secret
        self.lock = threading.Condition()
        self.reset()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-wechat", daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.token_requests: list[str] = []  # app ids
            self.valid: dict[str, str] = {}      # token → app id
            self.sent: list[Sent] = []
            self.media: dict[str, tuple[bytes, str]] = {}
            self.media_requests: list[str] = []
            self.send_errors: list[int] = []     # errcodes to answer the next sends with, one each
            self.token_delay = 0.0
            self._serial = itertools.count(1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- test controls ---------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (WeChat's 42001), as after a refresh elsewhere."""
        with self.lock:
            self.valid.clear()

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        with self.lock:
            self.media[media_id] = (data, content_type)

    def wait_sent(self, count: int, timeout: float = WAIT) -> list[Sent]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.sent) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.sent)} messages sent, expected {count}: "
                                         f"{[s.content for s in self.sent]}")
                self.lock.wait(left)
            return list(self.sent)

    def texts(self, openid: str | None = None) -> list[str]:
        with self.lock:
            return [s.content for s in self.sent if openid is None or s.touser == openid]

    # -- the server ------------------------------------------------------------------------------

    def _reply(self, request: BaseHTTPRequestHandler, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _token_ok(self, query: dict[str, list[str]]) -> int:
        token = query.get("access_token", [""])[0]
        with self.lock:
            if token in self.valid:
                return 0
            return 42001 if token.startswith("tok-") else 40001

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if method == "GET" and parts.path == "/cgi-bin/token":
            app_id = query.get("appid", [""])[0]
            with self.lock:
                self.token_requests.append(app_id)
                delay = self.token_delay
            if delay:
                time.sleep(delay)
            if query.get("grant_type") != ["client_credential"] or self.secrets.get(app_id) != query.get("secret", [""])[0]:
                return self._reply(request, {"errcode": 40125, "errmsg": "invalid appsecret"})
            with self.lock:
                token = f"tok-{app_id}-{next(self._serial)}"
                self.valid[token] = app_id
            return self._reply(request, {"access_token": token, "expires_in": 7200})
        if method == "POST" and parts.path == "/cgi-bin/message/custom/send":
            raw = request.rfile.read(int(request.headers.get("Content-Length") or 0))
            errcode = self._token_ok(query)
            with self.lock:
                if not errcode and self.send_errors:
                    errcode = self.send_errors.pop(0)
            if errcode:
                return self._reply(request, {"errcode": errcode, "errmsg": "fake error"})
            body = json.loads(raw)
            with self.lock:
                self.sent.append(Sent(body["touser"], body["msgtype"], body["text"]["content"],
                                      query["access_token"][0], raw))
                self.lock.notify_all()
            return self._reply(request, {"errcode": 0, "errmsg": "ok"})
        if method == "GET" and parts.path == "/cgi-bin/media/get":
            errcode = self._token_ok(query)
            if errcode:
                return self._reply(request, {"errcode": errcode, "errmsg": "fake error"}, "text/plain")
            media_id = query.get("media_id", [""])[0]
            with self.lock:
                self.media_requests.append(media_id)
                found = self.media.get(media_id)
            if found is None:
                return self._reply(request, {"errcode": 40007, "errmsg": "invalid media_id"}, "text/plain")
            return self._reply(request, found[0], found[1])
        request.send_response(404)
        request.end_headers()
