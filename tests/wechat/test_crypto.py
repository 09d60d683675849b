"""Safe mode's crypto against vectors built here from WeChat's documented algorithm (tests/wechat/wechat.py
implements it independently of the backend, padding and all), and the signature formula."""

from __future__ import annotations

import base64
import hashlib

import pytest

from backend.channels.wechat.crypto import BadPayload, MessageCrypto, sha1_signature, signature_ok
from tests.wechat.conftest import SHOP
from tests.wechat.wechat import decrypt, encrypt, sha1_sign

KEY, APP_ID, TOKEN = SHOP["encoding_aes_key"], SHOP["app_id"], SHOP["token"]
XML = "<xml><Content><![CDATA[你好]]></Content></xml>".encode()
RANDOM = b"0123456789abcdef"
# The documented algorithm applied to XML with RANDOM as the 16 random bytes (pinned: both sides must keep it).
VECTOR = ("sKqRbbiSUnDhFHOvPjtUMUEzloWPcaYNMsicnqLJL3iI+01AYWwMhwhsbWcmXPZpVcrcG+btVni9ei4Csvb3fNLgbN3fZ326ti6/QEJNgQAGf4V6"
          "LskOfIRT3lvm5cKY")


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, KEY, APP_ID)


def test_the_key_is_the_base64_of_the_encoding_aes_key_and_the_iv_its_first_16_bytes(crypto: MessageCrypto) -> None:
    assert crypto.key == base64.b64decode(KEY + "=") and len(crypto.key) == 32


def test_encryption_matches_the_documented_algorithm_byte_for_byte(crypto: MessageCrypto) -> None:
    assert encrypt(KEY, APP_ID, XML, RANDOM) == VECTOR
    assert crypto.encrypt(XML, RANDOM) == VECTOR


def test_round_trips_both_ways(crypto: MessageCrypto) -> None:
    assert crypto.decrypt(VECTOR) == XML
    assert crypto.decrypt(encrypt(KEY, APP_ID, XML)) == XML  # fresh random bytes each time
    assert decrypt(KEY, crypto.encrypt(XML)) == (XML, APP_ID.encode())


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 44, 1000])
def test_padding_is_pkcs7_to_32_byte_blocks(crypto: MessageCrypto, size: int) -> None:
    xml = b"x" * size
    plain = 16 + 4 + size + len(APP_ID)
    raw = base64.b64decode(crypto.encrypt(xml))
    assert len(raw) == (plain // 32 + 1) * 32  # a whole block of 32 when it already fits exactly
    assert crypto.decrypt(encrypt(KEY, APP_ID, xml)) == xml


def test_msg_signature_is_the_sha1_of_the_sorted_token_timestamp_nonce_and_encrypt(crypto: MessageCrypto) -> None:
    expected = hashlib.sha1("".join(sorted([TOKEN, "1409659813", "1372623149", VECTOR])).encode()).hexdigest()
    assert crypto.msg_signature("1409659813", "1372623149", VECTOR) == expected == sha1_sign(
        TOKEN, "1409659813", "1372623149", VECTOR)
    assert crypto.msg_signature_ok("1409659813", "1372623149", VECTOR, expected.upper())
    assert not crypto.msg_signature_ok("1409659813", "1372623150", VECTOR, expected)
    assert signature_ok(TOKEN, "1409659813", "1372623149", sha1_signature(TOKEN, "1409659813", "1372623149"))


def _flip(data: str, at: int) -> str:
    raw = bytearray(base64.b64decode(data))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("bad", [
    "",                                               # nothing
    "not base64!!",                                   # not base64
    base64.b64encode(b"short").decode(),              # not whole blocks
    _flip(VECTOR, -1),                                # padding destroyed
    _flip(VECTOR, 0),                                 # the length garbled (CBC: the next block's byte)
    encrypt(KEY, "wxAnotherAppId0001", XML),          # someone else's AppID
    encrypt("a" * 43, APP_ID, XML),                   # another key
])
def test_tampered_or_foreign_ciphertexts_are_refused(crypto: MessageCrypto, bad: str) -> None:
    with pytest.raises(BadPayload):
        crypto.decrypt(bad)


def test_a_length_beyond_the_message_is_refused(crypto: MessageCrypto) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(KEY + "=")
    plain = RANDOM + (10_000).to_bytes(4, "big") + XML + APP_ID.encode()
    plain += bytes([32 - len(plain) % 32]) * (32 - len(plain) % 32)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    forged = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    with pytest.raises(BadPayload, match="length"):
        crypto.decrypt(forged)
