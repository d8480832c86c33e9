"""Webhook signatures from outside platforms, verified on the raw body with a replay window.

The IoT platform (IF-EXT-009) signs `timestamp\nnonce\nbody\n` with HMAC-SHA256 and the key named
by `X-Waterrev-Key-Id` (so keys can rotate); each nonce is accepted once inside the window.
The keys are JSON {platform: {keyId: secret}}: WATERREV_WEBHOOK_KEYS locally and in tests, the
Secrets Manager secret WATERREV_WEBHOOK_KEYS_SECRET_ARN in the cloud.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from waterrev.db import UnitOfWork
from waterrev.errors import AppError, ErrorCode
from waterrev.security import hmac_sha256
from waterrev.settings import get_settings


def platform_keys(platform: str) -> dict[str, str]:
    """Key id -> secret for a platform. WATERREV_WEBHOOK_KEYS wins when set, so local runs and tests
    never reach for AWS; otherwise the secret, if one is configured."""
    s = get_settings()
    if s.webhook_keys:
        keys: dict[str, Any] = json.loads(s.webhook_keys)
    elif s.webhook_keys_secret_arn:
        keys = _secret_keys(s.webhook_keys_secret_arn)
    else:
        return {}
    return dict(keys.get(platform, {}))


REREAD_AFTER_S = 60  # an unknown key id makes us read the secret again, at most this often
_last_read = [0.0]


@lru_cache(maxsize=1)
def _secret_keys(secret_arn: str) -> dict[str, Any]:
    """The secret's JSON, read once per execution environment (a webhook costs no Secrets Manager
    call), and again when a key id arrives that we do not know (see `reread_keys`)."""
    import boto3  # only the cloud path pays for importing boto3

    raw = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    _last_read[0] = time.monotonic()
    return dict(json.loads(raw))


def reread_keys() -> bool:
    """A key id we do not know may be one added to the secret since we read it (a rotation): read the
    secret again - at most once per REREAD_AFTER_S, so unknown ids cannot hammer Secrets Manager.
    True when the keys will be read afresh."""
    s = get_settings()
    if s.webhook_keys or not s.webhook_keys_secret_arn:
        return False
    if time.monotonic() - _last_read[0] < REREAD_AFTER_S:
        return False
    _secret_keys.cache_clear()
    return True


def reset_keys() -> None:
    """Forget the keys read from the secret (tests, and whoever changes the secret in-process)."""
    _secret_keys.cache_clear()
    _last_read[0] = 0.0


def check_storable(value: Any, where: str = "body") -> None:
    """A ValueError naming the first string of a parsed JSON body (a key or a value, at any depth) that
    PostgreSQL text cannot hold: a NUL or a lone surrogate, which JSON's \\u0000 and \\ud800 decode to.
    A platform's signature says who sent a body, not that every field of it can be kept."""
    if isinstance(value, dict):
        for key, inner in value.items():
            check_storable(key, where)
            check_storable(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            check_storable(inner, f"{where}[{i}]")
    elif isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: 含 NUL 字符")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: 含孤立的代理字符") from None


def sign(secret: str, timestamp: str, nonce: str, body: str) -> str:
    return hmac_sha256(secret, f"{timestamp}\n{nonce}\n{body}\n")


def verify(
    platform: str, headers: Mapping[str, str], body: str, error: ErrorCode = ErrorCode.UNAUTHORIZED
) -> None:
    h = {k.lower(): v for k, v in headers.items()}
    key_id, timestamp = h.get("x-waterrev-key-id", ""), h.get("x-waterrev-timestamp", "")
    nonce, signature = h.get("x-waterrev-nonce", ""), h.get("x-waterrev-signature", "")
    secret = platform_keys(platform).get(key_id)
    if secret is None and key_id and reread_keys():
        secret = platform_keys(platform).get(key_id)
    if not (secret and timestamp.isdigit() and nonce and signature):
        raise AppError(error, "签名头缺失或密钥编号未知")
    if not hmac.compare_digest(sign(secret, timestamp, nonce, body), signature.lower()):
        raise AppError(error, "签名不匹配")
    window = get_settings().channel_login_window_s
    if abs(time.time() - int(timestamp)) > window:
        raise AppError(error, f"时间戳超出 {window} 秒有效期")
    with UnitOfWork() as uow:
        fresh = uow.scalar(
            "INSERT INTO biz_channel_nonce (nonce) VALUES (:n) ON CONFLICT DO NOTHING RETURNING 1",
            {"n": f"{platform}:{nonce}"[:64]},
        )
        uow.commit()
    if fresh is None:
        raise AppError(error, "重复的通知（nonce 已使用）")
