"""waterrev.crypto: sealing and blind indexes, with the local key file and with KMS (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from waterrev import crypto


def keys_from(wrapper: crypto.KeyWrapper) -> crypto.Keys:
    plain, wrapped = wrapper.new_key()
    assert wrapper.unwrap(wrapped) == plain and plain not in wrapped
    data_key = wrapper.unwrap(wrapped)
    return crypto.Keys(1, {1: data_key}, crypto._derive(data_key, b"blind-index"))


def test_the_local_key_file_is_made_private_and_wraps_data_keys(tmp_path: Path) -> None:
    """Given no key file yet
    When a data key is made
    Then the file exists with mode 0600, and the wrapped data key opens only with it."""
    path = tmp_path / "sub" / "data-key"
    keys = keys_from(crypto.LocalKeyFile(str(path)))

    assert path.stat().st_mode & 0o777 == 0o600
    sealed = keys.seal("6222020200001234567")
    assert b"6222020200001234567" not in sealed and keys.open(sealed) == "6222020200001234567"
    with pytest.raises(InvalidTag):
        crypto.LocalKeyFile(str(tmp_path / "other")).unwrap(crypto.LocalKeyFile(str(path)).new_key()[1])


def test_kms_wraps_and_unwraps_data_keys() -> None:
    """Given a KMS key (moto)
    When a data key is generated and unwrapped again
    Then values sealed under it open, equal numbers have equal blind indexes and different ones differ, and
    a value sealed for one purpose does not open for another."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        key_id = boto3.client("kms", region_name="cn-north-1").create_key()["KeyMetadata"]["KeyId"]
        keys = keys_from(crypto.Kms(key_id))
    sealed = keys.seal("6222 0202 0000 1234 567".replace(" ", ""))
    assert keys.open(sealed) == "6222020200001234567"
    assert keys.index("6222 0202 0000 1234 567") == keys.index("6222020200001234567")
    assert keys.index("6222020200001234568") != keys.index("6222020200001234567")
    with pytest.raises(InvalidTag):
        keys.open(sealed, purpose="another")
