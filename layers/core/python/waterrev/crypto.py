"""Personal data at rest: envelope encryption and blind indexes (bank accounts, ID numbers, mobiles).

A value is sealed with AES-256-GCM under a data key; the data key is kept in the database only wrapped
(bk_data_key.wrapped_key), and unwrapping it needs the key-encryption key, which never is in the
database: a KMS key in the cloud (`Kms`: GenerateDataKey / Decrypt), a key file on this machine locally
and in the tests (`LocalKeyFile`, created 0600 on first use). So a dump of the database shows neither an
account number nor a key that opens one. The first data key is created on first use (an INSERT .. ON
CONFLICT, so concurrent first users agree on one); a sealed value names its key, so a later key can be
added without re-sealing the old values.

A blind index (HMAC-SHA256 under a key derived from the first data key, never the same bytes as the
sealing key) finds a value without opening any: `index("6228480402564890018")` is the same for every
row holding that number, and says nothing about it.

ID numbers (purpose "id-no") and mobiles ("mobile") are kept the same way (`Keys.pii`): the column of the
value holds only its masked form, `<column>_cipher` the sealed value and `<column>_index` its blind index
(`Keys.pii_index`, bound to the kind, so a mobile and an account with the same digits index apart). Every
mobile column seals with the same purpose, so a sealed mobile may be copied from one table to another (a
message's receiver from the customer's row) without being opened.

The unwrapped keys are kept in this process once read (one KMS Decrypt per execution environment).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from waterrev.masking import ID_NO as ID_NO
from waterrev.masking import MOBILE as MOBILE
from waterrev.masking import normalize_pii as normalize_pii
from waterrev.settings import get_settings

_VERSION = b"\x01"
_NONCE = 12


class KeyWrapper(Protocol):
    name: str

    def new_key(self) -> tuple[bytes, bytes]:
        """A fresh 32-byte data key: (plaintext, wrapped)."""
        ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalKeyFile:
    """The key-encryption key in a file (32 random bytes, base64), for the local stack and the tests."""

    name = "local-file"

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    def _kek(self) -> bytes:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(32)).decode())
        return base64.b64decode(self._path.read_text().strip())

    def new_key(self) -> tuple[bytes, bytes]:
        plain = secrets.token_bytes(32)
        return plain, _seal_with(self._kek(), plain, b"data-key")

    def unwrap(self, wrapped: bytes) -> bytes:
        return _open_with(self._kek(), wrapped, b"data-key")


class Kms:
    """AWS KMS: GenerateDataKey (AES_256) and Decrypt with the configured key."""

    name = "kms"

    def __init__(self, key_id: str, endpoint_url: str | None = None) -> None:
        self._key_id = key_id
        self._endpoint_url = endpoint_url

    def _client(self) -> Any:
        import boto3  # cold path: only the first seal or open of an execution environment

        return boto3.client("kms", endpoint_url=self._endpoint_url)

    def new_key(self) -> tuple[bytes, bytes]:
        made = self._client().generate_data_key(KeyId=self._key_id, KeySpec="AES_256")
        return bytes(made["Plaintext"]), bytes(made["CiphertextBlob"])

    def unwrap(self, wrapped: bytes) -> bytes:
        return bytes(self._client().decrypt(CiphertextBlob=wrapped, KeyId=self._key_id)["Plaintext"])


def wrapper() -> KeyWrapper:
    settings = get_settings()
    if settings.kms_key_id:
        return Kms(settings.kms_key_id, settings.kms_endpoint_url)
    if settings.data_key_file:
        return LocalKeyFile(settings.data_key_file)
    raise RuntimeError(
        "neither WATERREV_KMS_KEY_ID nor WATERREV_DATA_KEY_FILE is set: no key for personal data"
    )


def _seal_with(key: bytes, plain: bytes, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(_NONCE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plain, aad)


def _open_with(key: bytes, blob: bytes, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if blob[:1] != _VERSION:
        raise ValueError("unknown sealed-value version")
    return AESGCM(key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"waterrev:" + purpose, hashlib.sha256).digest()


def normalize_account(value: str) -> str:
    """What is sealed and indexed: the digits as written, without spaces."""
    return re.sub(r"\s", "", value)


@dataclass(frozen=True)
class Sealed:
    """One personal value at rest: the masked form (kept in clear), the sealed value and its blind index."""

    masked: str | None
    cipher: bytes | None
    index: str | None


NOTHING = Sealed(None, None, None)


def mask(kind: str, value: str | None) -> str | None:
    from waterrev.masking import mask_id_no, mask_mobile

    return mask_mobile(value) if kind == MOBILE else mask_id_no(value)


@dataclass(frozen=True)
class Keys:
    """The unwrapped data keys of this database, by id; `current` seals, every one opens."""

    current: int
    data_keys: dict[int, bytes]
    index_key: bytes

    def seal(self, value: str, purpose: str = "bank-account") -> bytes:
        """Key id (4 bytes) + version + nonce + ciphertext; `purpose` is bound as associated data."""
        key = _derive(self.data_keys[self.current], b"seal")
        return self.current.to_bytes(4, "big") + _seal_with(key, value.encode(), purpose.encode())

    def open(self, blob: bytes | memoryview, purpose: str = "bank-account") -> str:
        blob = bytes(blob)
        key_id = int.from_bytes(blob[:4], "big")
        key = _derive(self.data_keys[key_id], b"seal")
        return _open_with(key, blob[4:], purpose.encode()).decode()

    def index(self, value: str) -> str:
        """The blind index of a value (hex HMAC-SHA256): equal values, equal indexes."""
        return hmac.new(self.index_key, normalize_account(value).encode(), hashlib.sha256).hexdigest()

    def pii_index(self, kind: str, value: str) -> str:
        """The blind index of an ID number or a mobile (kind MOBILE or ID_NO)."""
        data = f"{kind}:{normalize_pii(value, kind)}".encode()
        return hmac.new(self.index_key, data, hashlib.sha256).hexdigest()

    def pii(self, kind: str, value: str | None) -> Sealed:
        """An ID number or a mobile as it is stored: masked, sealed and indexed (NOTHING for no value)."""
        if value is None or not value.strip():
            return NOTHING
        plain = normalize_pii(value, kind)
        return Sealed(mask(kind, plain), self.seal(plain, kind), self.pii_index(kind, plain))

    def open_pii(self, kind: str, blob: bytes | memoryview | None) -> str | None:
        return None if blob is None else self.open(blob, kind)


SEALED_SUFFIX = "Sealed"


def seal_fields(keys: Keys, data: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """A JSON document with its `fields` (name -> kind) as documents keep them: the field masked, the value
    sealed beside it as `<field>Sealed` (base64). A field already sealed is left as it is."""
    out = dict(data)
    for field, kind in fields.items():
        if out.get(field) and not out.get(field + SEALED_SUFFIX):
            sealed = keys.pii(kind, str(out[field]))
            assert sealed.cipher is not None
            out[field] = sealed.masked
            out[field + SEALED_SUFFIX] = base64.b64encode(sealed.cipher).decode()
    return out


def open_fields(keys: Keys, data: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """`seal_fields` undone: each field's value itself, the sealed copies gone."""
    out = {k: v for k, v in data.items() if not k.endswith(SEALED_SUFFIX)}
    for field, kind in fields.items():
        if data.get(field + SEALED_SUFFIX):
            out[field] = keys.open(base64.b64decode(data[field + SEALED_SUFFIX]), kind)
    return out


def stored(row: Any, column: str) -> Sealed:
    """The sealed value of `column` as a row read it (`column`, `column_cipher`, `column_index`)."""
    return Sealed(row[column], row[f"{column}_cipher"], row[f"{column}_index"])


def columns(column: str, sealed: Sealed) -> dict[str, Any]:
    """The parameters of one sealed column: {column: masked, column_cipher: .., column_index: ..}."""
    return {column: sealed.masked, f"{column}_cipher": sealed.cipher, f"{column}_index": sealed.index}


_cache: dict[str, Keys] = {}
_lock = threading.Lock()


def keys(conn: Any) -> Keys:
    """The keys, read (and on first use created) through `conn` (a SQLAlchemy Connection: a unit of work's
    `uow.conn`, or a migration's bind). Cached per process and per key-encryption key."""
    from sqlalchemy import text

    wrap = wrapper()
    cache_key = f"{wrap.name}:{get_settings().kms_key_id or get_settings().data_key_file}"
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            return found
        rows = conn.execute(text("SELECT id, wrapped_key FROM bk_data_key ORDER BY id")).all()
        created = not rows
        if created:  # the migration creates it where a key is configured; else the first user does
            _plain, wrapped = wrap.new_key()
            conn.execute(
                text(
                    "INSERT INTO bk_data_key (id, wrapper, wrapped_key) VALUES (1, :w, :k) ON CONFLICT (id) DO NOTHING"
                ),
                {"w": wrap.name, "k": wrapped},
            )
            rows = conn.execute(text("SELECT id, wrapped_key FROM bk_data_key ORDER BY id")).all()
        data_keys = {int(r[0]): wrap.unwrap(bytes(r[1])) for r in rows}
        first = min(data_keys)
        found = Keys(max(data_keys), data_keys, _derive(data_keys[first], b"blind-index"))
        if not created:  # created in the caller's transaction: cached once it is surely committed
            _cache[cache_key] = found
        return found


def create_first_key(conn: Any) -> bool:
    """The migration's step: the first data key, when a key-encryption key is configured (True if made)."""
    from sqlalchemy import text

    try:
        wrap = wrapper()
    except RuntimeError:
        return False
    if conn.execute(text("SELECT 1 FROM bk_data_key LIMIT 1")).first() is not None:
        return False
    _plain, wrapped = wrap.new_key()
    conn.execute(
        text(
            "INSERT INTO bk_data_key (id, wrapper, wrapped_key) VALUES (1, :w, :k) ON CONFLICT (id) DO NOTHING"
        ),
        {"w": wrap.name, "k": wrapped},
    )
    return True


def is_masked(value: str | None) -> bool:
    """A value that is already a mask ('138****5678'): a migration's backfill leaves it as it is - sealing
    it would keep the mask as if it were the value, and index it as one."""
    return value is not None and "*" in value


def refuse_downgrade_if_sealed(conn: Any, revision: str, columns: list[tuple[str, str]]) -> None:
    """A migration's downgrade that would drop sealed columns: refused while any of them (table, cipher
    column) holds a value. The clear columns hold only masks, so dropping the seals would lose the values
    for good; a downgrade re-opening them would need the key and undo the point of sealing them."""
    from sqlalchemy import text

    holding = [
        f"{table}.{column}"
        for table, column in columns
        if conn.execute(text(f"SELECT 1 FROM {table} WHERE {column} IS NOT NULL LIMIT 1")).first() is not None
    ]
    if holding:
        raise RuntimeError(
            f"downgrade of revision {revision} refused: sealed personal data in {', '.join(holding)}; dropping"
            " these columns would lose the values (only their masks are kept in clear). Restore a backup"
            " taken before the revision instead."
        )


def forget_keys() -> None:
    """Tests: drop the cached keys (another database, another key file)."""
    with _lock:
        _cache.clear()
