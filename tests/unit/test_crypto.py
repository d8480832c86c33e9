"""waterrev.crypto: sealing and blind indexes, with the local key file and with KMS (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st

from waterrev import crypto


def keys_from(wrapper: crypto.KeyWrapper) -> crypto.Keys:
    plain, wrapped = wrapper.new_key()
    assert wrapper.unwrap(wrapped) == plain and plain not in wrapped
    data_key = wrapper.unwrap(wrapped)
    return crypto.Keys(1, {1: data_key}, crypto._derive(data_key, b"blind-index"))


_KEY = bytes(range(32))
_KEYS = crypto.Keys(1, {1: _KEY}, crypto._derive(_KEY, b"blind-index"))  # fixed keys: no file, no KMS


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


def test_an_id_number_or_a_mobile_is_kept_masked_sealed_and_indexed(tmp_path: Path) -> None:
    """Given the keys
    When an ID number (written with a small x and spaces) and a mobile are kept
    Then each is masked, its seal opens to the normalised value only for its own kind, equal values (in any
    spelling) index alike, a mobile and an account with the same digits index apart, and nothing is NOTHING."""
    keys = keys_from(crypto.LocalKeyFile(str(tmp_path / "k")))

    id_no = keys.pii(crypto.ID_NO, " 11010519491231002x ")
    mobile = keys.pii(crypto.MOBILE, "13912345678")

    assert (id_no.masked, mobile.masked) == ("110105********002X", "139****5678")
    assert id_no.cipher is not None and mobile.cipher is not None
    assert keys.open_pii(crypto.ID_NO, id_no.cipher) == "11010519491231002X"
    assert keys.open_pii(crypto.MOBILE, mobile.cipher) == "13912345678"
    with pytest.raises(InvalidTag):
        keys.open_pii(crypto.MOBILE, id_no.cipher)
    assert id_no.index == keys.pii_index(crypto.ID_NO, "11010519491231002X")
    assert mobile.index != keys.index("13912345678") != keys.pii_index(crypto.ID_NO, "13912345678")
    assert keys.pii(crypto.MOBILE, None) == keys.pii(crypto.MOBILE, "  ") == crypto.NOTHING


def test_fields_of_a_document_are_sealed_beside_their_masks_and_open_again(tmp_path: Path) -> None:
    """Given an applyData document with an ID number and a mobile
    When its fields are sealed, sealed again, and opened
    Then the sealed document shows only masks (the seals beside them), sealing twice changes nothing, and
    opening gives the document back."""
    keys = keys_from(crypto.LocalKeyFile(str(tmp_path / "k")))
    fields = {"idNo": crypto.ID_NO, "mobile": crypto.MOBILE}
    data = {"newName": "李四", "idNo": "11010519491231002X", "mobile": "13800000009"}

    sealed = crypto.seal_fields(keys, data, fields)

    assert sealed["idNo"] == "110105********002X" and sealed["mobile"] == "138****0009"
    assert "13800000009" not in str(sealed) and "11010519491231002X" not in str(sealed)
    assert crypto.seal_fields(keys, sealed, fields) == sealed
    assert crypto.open_fields(keys, sealed, fields) == data


@settings(max_examples=200, deadline=None)
@given(
    mobile=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    prefix=st.sampled_from(["", "+86", "86", "0086", "+86 ", "86 ", "0086-"]),
    dashes=st.booleans(),
    spaces=st.sampled_from(["", " ", "  "]),
)
def test_every_spelling_of_a_mainland_mobile_has_one_index(
    mobile: str, prefix: str, dashes: bool, spaces: str
) -> None:
    """Given a mainland mobile
    When it is written with a country prefix (+86, 86, 0086), with '-' between its groups, with spaces
    Then it normalises to the 11 digits, so it is sealed as them and its blind index is the plain one's."""
    sep = "-" if dashes else spaces
    written = f"{spaces}{prefix}{mobile[:3]}{sep}{mobile[3:7]}{sep}{mobile[7:]}{spaces}"
    keys = _KEYS

    assert crypto.normalize_pii(written, crypto.MOBILE) == mobile
    assert keys.pii_index(crypto.MOBILE, written) == keys.pii_index(crypto.MOBILE, mobile)
    sealed = keys.pii(crypto.MOBILE, written)
    assert (
        keys.open_pii(crypto.MOBILE, sealed.cipher) == mobile
        and sealed.masked == f"{mobile[:3]}****{mobile[7:]}"
    )


def test_mobile_rules_apply_only_to_mobiles() -> None:
    """Given values that only look like a prefixed mobile to the mobile rules
    When normalised as an ID number, or as a mobile that is not mainland
    Then an ID number only loses spaces and upper-cases (its '-' and leading digits stay), a foreign mobile
    keeps its country code, and '86' before anything but a mainland mobile is kept."""
    assert crypto.normalize_pii(" 86138123456789012x ", crypto.ID_NO) == "86138123456789012X"
    assert crypto.normalize_pii("E1234-5678", crypto.ID_NO) == "E1234-5678"
    assert crypto.normalize_pii("+852 9123-4567", crypto.MOBILE) == "+85291234567"
    assert crypto.normalize_pii("8612345678", crypto.MOBILE) == "8612345678"
    assert crypto.normalize_pii("86 12812345678", crypto.MOBILE) == "8612812345678"  # 128: no mainland mobile
    assert _KEYS.pii_index(crypto.ID_NO, "13812345678") != _KEYS.pii_index(crypto.MOBILE, "+8613812345678")
