"""Signatures of the SYS-009 payment protocol, shared by our client and the local simulator.

Requests SYS-002 -> SYS-009: hex HMAC-SHA256 with the app secret over
`METHOD\\npath\\ntimestamp\\nnonce\\nbody\\n` (path = the request target as sent, query included).
Notifications SYS-009 -> SYS-002: base64 RSA-SHA256 (PKCS#1 v1.5) with the platform's private key
over `timestamp\\nnonce\\nbody\\n`, always on the raw body bytes as received, never on JSON
serialized again. See docs/SYS009.md.

`cryptography` is imported on first use: a function that never checks a notification never pays
for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REQUEST_WINDOW_S = 300


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def request_message(method: str, path: str, ts: str | int, nonce: str, body: bytes | str) -> bytes:
    return f"{method.upper()}\n{path}\n{ts}\n{nonce}\n".encode() + _bytes(body) + b"\n"


def sign_request(secret: str, method: str, path: str, ts: str | int, nonce: str, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of `METHOD\\npath\\ntimestamp\\nnonce\\nbody\\n` with the app secret."""
    message = request_message(method, path, ts, nonce, body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_request(
    secret: str,
    method: str,
    path: str,
    ts: str,
    nonce: str,
    body: bytes | str,
    signature: str,
    *,
    window_s: int = REQUEST_WINDOW_S,
    now: float | None = None,
) -> bool:
    """True when the signature matches and the timestamp (unix seconds) is inside the window."""
    if not (ts.isdigit() and nonce and signature):
        return False
    if abs((time.time() if now is None else now) - int(ts)) > window_s:
        return False
    expected = sign_request(secret, method, path, ts, nonce, body)
    return hmac.compare_digest(expected, signature.strip().lower())


def notification_message(ts: str | int, nonce: str, body: bytes) -> bytes:
    return f"{ts}\n{nonce}\n".encode() + body + b"\n"


@lru_cache(maxsize=16)
def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


@lru_cache(maxsize=64)
def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(pem)


def sign_rsa(private_key_pem: str | bytes, message: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) of a message."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _private_key(_bytes(private_key_pem))
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def sign_notification(private_key_pem: str | bytes, ts: str | int, nonce: str, body: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) of `timestamp\\nnonce\\nbody\\n` on the raw body bytes."""
    return sign_rsa(private_key_pem, notification_message(ts, nonce, body))


def verify_notification(
    public_keys: Mapping[str, str],
    serial: str,
    ts: str | int,
    nonce: str,
    signature_b64: str,
    body: bytes,
    *,
    window_s: int | None = None,
    now: float | None = None,
) -> bool:
    """True when the key named by `serial` verifies the signature over the raw body.

    An unknown serial, a malformed signature or a bad key is False, never an exception. With
    `window_s`, a timestamp further than that from now is False too (each delivery attempt of the
    same notification carries a fresh timestamp and nonce, so a window does not break retries).
    """
    pem = public_keys.get(serial)
    if not (pem and nonce and signature_b64) or not str(ts).isdigit():
        return False
    if window_s is not None and abs((time.time() if now is None else now) - int(ts)) > window_s:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = _public_key(_bytes(pem))
    except (ValueError, TypeError):
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, notification_message(ts, nonce, body), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def key_serial(public_key_pem: str | bytes) -> str:
    """The serial of a key: 40 upper-case hex digits of SHA-256 over its DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization

    der = _public_key(_bytes(public_key_pem)).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:40].upper()


def new_key_pair() -> tuple[str, str]:
    """A fresh 2048-bit RSA key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pems(key)


def public_pem_of(private_key_pem: str | bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = _private_key(_bytes(private_key_pem))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the platform key must be an RSA private key")
    return _pems(key)[1]


def _pems(key: Any) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private, public
