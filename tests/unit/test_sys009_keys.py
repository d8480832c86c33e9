"""SYS-009's notification keys in the cloud: read from the secret named by WATERREV_SYS009_SECRET_ARN
(on moto) once, and read again when a serial we do not know arrives - at most once a minute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from waterrev.adapters import sys009
from waterrev.settings import reset_settings


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("BASE_URL", "APP_ID", "APP_SECRET", "PLATFORM_KEYS", "SECRET_ARN"):
        monkeypatch.delenv(f"WATERREV_SYS009_{name}", raising=False)
    sys009._secret_config.clear()
    sys009._secret_read_at[0] = 0.0
    reset_settings()
    yield
    sys009._secret_config.clear()
    sys009._secret_read_at[0] = 0.0
    reset_settings()


def connection(keys: dict[str, str]) -> str:
    return json.dumps(
        {"baseUrl": "https://sys009.example", "appId": "a", "appSecret": "s", "platformKeys": keys}
    )


def test_given_a_new_serial_in_the_secret_when_it_is_asked_for_then_it_is_read_again_at_most_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [500.0]
    monkeypatch.setattr(sys009.time, "monotonic", lambda: clock[0])
    with mock_aws():
        client: Any = boto3.client("secretsmanager")
        arn = client.create_secret(Name="waterrev/sys009", SecretString=connection({"OLD": "pem-old"}))["ARN"]
        monkeypatch.setenv("WATERREV_SYS009_SECRET_ARN", arn)
        reset_settings()

        assert sys009.platform_keys_from_settings() == {"OLD": "pem-old"}  # read at t=500
        client.put_secret_value(SecretId=arn, SecretString=connection({"OLD": "pem-old", "NEW": "pem-new"}))

        clock[0] += 59
        assert sys009.reread_secret() is False  # too soon: unknown serials cannot hammer the secret
        assert "NEW" not in sys009.platform_keys_from_settings()
        clock[0] += 2
        assert sys009.reread_secret() is True
        assert sys009.platform_keys_from_settings() == {"OLD": "pem-old", "NEW": "pem-new"}
        assert sys009.reread_secret() is False  # just read


def test_given_keys_from_the_environment_then_nothing_is_read_again() -> None:
    assert sys009.reread_secret() is False
