"""WeChat's server signatures and safe-mode message encryption (消息加解密), as WeChat documents them.

- `signature` = sha1 of the sorted, concatenated token, timestamp and nonce (every request).
- `msg_signature` = sha1 of the sorted token, timestamp, nonce and the `Encrypt` text (safe mode).
- The AES key is base64decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with iv = key[:16]; the
  plaintext is 16 random bytes, the message length as 4 bytes big-endian, the XML, the AppID; padded
  PKCS#7 to 32-byte blocks. The cipher and the padding are the `cryptography` package's, used as its
  documentation shows; nothing here is hand-written AES.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_BITS = 32 * 8  # WeChat pads to 32 bytes, not AES's 16


class BadPayload(Exception):
    """A request that is not what WeChat sends: refused, logged, never answered."""


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(sha1_signature(token, timestamp, nonce), signature.lower())


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class MessageCrypto:
    """Encrypts and decrypts the `Encrypt` element of one account."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token, self.app_id = token, app_id
        self.key = aes_key(encoding_aes_key)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def msg_signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return sha1_signature(self.token, timestamp, nonce, encrypted)

    def msg_signature_ok(self, timestamp: str, nonce: str, encrypted: str, signature: str) -> bool:
        return hmac.compare_digest(self.msg_signature(timestamp, nonce, encrypted), signature.lower())

    def encrypt(self, xml: bytes, random16: bytes | None = None) -> str:
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(xml)) + xml + self.app_id.encode()
        padder = padding.PKCS7(BLOCK_BITS).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The XML inside, after checking the padding, the length and that it names our AppID."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadPayload("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise BadPayload("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
        try:
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise BadPayload("bad padding") from exc
        if len(plain) < 20:
            raise BadPayload("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if length > len(plain) - 20:
            raise BadPayload("bad length")
        xml, app_id = plain[20:20 + length], plain[20 + length:]
        if not hmac.compare_digest(app_id, self.app_id.encode()):
            raise BadPayload("addressed to another AppID")
        return xml
