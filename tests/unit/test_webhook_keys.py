"""Webhook keys in the cloud: read from the Secrets Manager secret named by
WATERREV_WEBHOOK_KEYS_SECRET_ARN (on moto), once per execution environment; WATERREV_WEBHOOK_KEYS
wins when set. No database: a bad signature is refused before the nonce is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

import waterrev
from waterrev import webhook
from waterrev.errors import AppError
from waterrev.settings import reset_settings

KEYS = {"IOT": {"key-1": "iot-secret"}, "BANK": {"bank-key-1": "bank-secret"}}


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No keys configured, nothing cached: each test sets what it needs."""
    monkeypatch.delenv("WATERREV_WEBHOOK_KEYS", raising=False)
    monkeypatch.delenv("WATERREV_WEBHOOK_KEYS_SECRET_ARN", raising=False)
    reset_settings()
    webhook.reset_keys()
    yield
    reset_settings()
    webhook.reset_keys()


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager")


def use_secret(monkeypatch: pytest.MonkeyPatch, client: Any, value: object) -> str:
    arn = str(client.create_secret(Name="waterrev/webhooks", SecretString=json.dumps(value))["ARN"])
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS_SECRET_ARN", arn)
    reset_settings()
    return arn


def test_given_only_the_secret_arn_when_keys_are_read_then_they_come_from_the_secret(
    monkeypatch: pytest.MonkeyPatch, secretsmanager: Any
) -> None:
    use_secret(monkeypatch, secretsmanager, KEYS)

    assert webhook.platform_keys("IOT") == {"key-1": "iot-secret"}
    assert webhook.platform_keys("BANK") == {"bank-key-1": "bank-secret"}
    assert webhook.platform_keys("ALIPAY") == {}


def test_given_the_secret_when_keys_are_read_twice_then_it_is_fetched_once(
    monkeypatch: pytest.MonkeyPatch, secretsmanager: Any
) -> None:
    arn = use_secret(monkeypatch, secretsmanager, KEYS)
    calls: list[str] = []
    real_client = boto3.client

    def counting_client(service: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(service)
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)

    first = webhook.platform_keys("IOT")
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"IOT": {"key-2": "new"}}))
    second = webhook.platform_keys("IOT")
    webhook.reset_keys()
    after_reset = webhook.platform_keys("IOT")

    # The warm environment keeps what it read; a new one (here: after the reset) reads the new value.
    assert first == second == {"key-1": "iot-secret"}
    assert after_reset == {"key-2": "new"}
    assert calls == ["secretsmanager", "secretsmanager"]


def test_given_the_env_keys_and_the_secret_arn_when_keys_are_read_then_the_env_wins_without_a_call(
    monkeypatch: pytest.MonkeyPatch, secretsmanager: Any
) -> None:
    # An ARN of a secret that does not exist: reading it would raise ResourceNotFoundException.
    monkeypatch.setenv(
        "WATERREV_WEBHOOK_KEYS_SECRET_ARN",
        "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:missing-AbCdEf",
    )
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"IOT": {"local-key": "local-secret"}}))
    reset_settings()

    assert webhook.platform_keys("IOT") == {"local-key": "local-secret"}
    assert webhook._secret_keys.cache_info().currsize == 0


def test_given_neither_when_keys_are_read_then_there_are_none() -> None:
    assert webhook.platform_keys("IOT") == {}


def test_given_keys_from_the_secret_when_a_webhook_is_verified_then_its_key_id_is_known(
    monkeypatch: pytest.MonkeyPatch, secretsmanager: Any
) -> None:
    use_secret(monkeypatch, secretsmanager, KEYS)
    headers = {
        "X-Waterrev-Timestamp": str(int(time.time())),
        "X-Waterrev-Nonce": "n-1",
        "X-Waterrev-Signature": "0" * 64,
    }

    # A known key id gets as far as the signature check; an unknown one stops before it.
    with pytest.raises(AppError, match="签名不匹配"):
        webhook.verify("BANK", {**headers, "X-Waterrev-Key-Id": "bank-key-1"}, "{}")
    with pytest.raises(AppError, match="密钥编号未知"):
        webhook.verify("BANK", {**headers, "X-Waterrev-Key-Id": "key-1"}, "{}")


def test_given_the_env_keys_when_keys_are_read_then_boto3_is_never_imported() -> None:
    """A fresh interpreter: in this one moto has imported boto3 already."""
    code = (
        "import sys; from waterrev import webhook; webhook.platform_keys('IOT'); "
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.path.dirname(os.path.dirname(waterrev.__file__)),
        "WATERREV_WEBHOOK_KEYS": json.dumps(KEYS),
    }
    env.pop("WATERREV_WEBHOOK_KEYS_SECRET_ARN", None)

    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_given_a_key_added_to_the_secret_when_its_id_first_arrives_then_the_secret_is_read_again(
    monkeypatch: pytest.MonkeyPatch, secretsmanager: Any
) -> None:
    """Rotation without a redeploy: an unknown key id re-reads the secret, at most once a minute."""
    arn = use_secret(monkeypatch, secretsmanager, KEYS)
    clock = [1000.0]
    monkeypatch.setattr(webhook.time, "monotonic", lambda: clock[0])
    headers = {
        "X-Waterrev-Timestamp": str(int(time.time())),
        "X-Waterrev-Nonce": "n-2",
        "X-Waterrev-Signature": "0" * 64,
    }
    assert webhook.platform_keys("BANK") == {"bank-key-1": "bank-secret"}  # read at t=1000
    secretsmanager.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"BANK": {"bank-key-1": "bank-secret", "bank-key-2": "new"}})
    )

    clock[0] += 30  # too soon after the last read: still unknown
    with pytest.raises(AppError, match="密钥编号未知"):
        webhook.verify("BANK", {**headers, "X-Waterrev-Key-Id": "bank-key-2"}, "{}")
    clock[0] += 31  # a minute on: read again, and the new key id gets to the signature check
    with pytest.raises(AppError, match="签名不匹配"):
        webhook.verify("BANK", {**headers, "X-Waterrev-Key-Id": "bank-key-2"}, "{}")
    assert webhook.platform_keys("BANK") == {"bank-key-1": "bank-secret", "bank-key-2": "new"}
