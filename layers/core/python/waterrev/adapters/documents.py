"""Connection-application documents in S3 (a private bucket): attachments uploaded by the back office
through time-limited presigned PUT links, the contracts we write, the signed contracts we copy.

Nothing is taken on trust: when an attachment is used, its object is read back and its size, type and
SHA-256 compared with what the caller declared (`verify`). Locally and in the tests the bucket lives on
moto's S3 server (waterrev.local.s3), named by WATERREV_S3_ENDPOINT_URL.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from typing import Any, NamedTuple

_CLIENT: list[Any] = []
_LOCK = threading.Lock()
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
UPLOAD_PREFIX = "installation/uploads/"
CONTENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "text/plain"})


class Stored(NamedTuple):
    key: str
    size: int
    content_type: str
    sha256: str


class DocumentProblem(Exception):
    """An object that is missing, too large, of another type, or whose digest differs."""


def _s3() -> Any:
    with _LOCK:
        if not _CLIENT:
            import boto3
            from botocore.config import Config

            from waterrev.settings import get_settings

            _CLIENT.append(
                boto3.client(
                    "s3",
                    endpoint_url=get_settings().s3_endpoint_url,
                    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
                )
            )
        return _CLIENT[0]


def reset() -> None:
    """Forget the client (tests and the local runner change the endpoint)."""
    with _LOCK:
        _CLIENT.clear()


def _bucket() -> str:
    from waterrev.settings import get_settings

    return get_settings().document_bucket


def upload_key(file_name: str) -> str:
    """A fresh key under the upload prefix: the caller cannot choose where its upload lands."""
    return f"{UPLOAD_PREFIX}{uuid.uuid4().hex}/{_SAFE.sub('_', file_name)[-120:] or 'file'}"


def upload_link(key: str, content_type: str, ttl_s: int) -> str:
    """A presigned PUT of `key` with `content_type`, living `ttl_s` seconds."""
    return str(
        _s3().generate_presigned_url(
            "put_object",
            Params={"Bucket": _bucket(), "Key": key, "ContentType": content_type},
            ExpiresIn=ttl_s,
        )
    )


def download_link(key: str, ttl_s: int) -> str:
    return str(
        _s3().generate_presigned_url("get_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=ttl_s)
    )


def store(key: str, content: bytes, content_type: str) -> Stored:
    _s3().put_object(
        Bucket=_bucket(), Key=key, Body=content, ContentType=content_type, ServerSideEncryption="AES256"
    )
    return Stored(key, len(content), content_type, hashlib.sha256(content).hexdigest())


def verify(key: str, *, sha256: str, size: int | None, content_type: str | None, max_bytes: int) -> Stored:
    """The object at `key` read back and checked against what was declared (DocumentProblem otherwise)."""
    from botocore.exceptions import ClientError

    if not key.startswith(UPLOAD_PREFIX) or ".." in key:
        raise DocumentProblem("fileKey 不是本系统签发的上传位置")
    try:
        head = _s3().head_object(Bucket=_bucket(), Key=key)
    except ClientError:
        raise DocumentProblem("文件未上传或已不存在") from None
    length = int(head.get("ContentLength") or 0)
    if length > max_bytes:
        raise DocumentProblem(f"文件大小 {length} 字节，超过 {max_bytes} 字节上限")
    if size is not None and length != size:
        raise DocumentProblem(f"文件大小 {length} 字节，与声明的 {size} 不符")
    stored_type = str(head.get("ContentType") or "").split(";")[0].strip().lower()
    if stored_type not in CONTENT_TYPES or (content_type and stored_type != content_type):
        raise DocumentProblem(f"文件类型 {stored_type or '未知'} 不被接受或与声明不符")
    digest = hashlib.sha256()
    body = _s3().get_object(Bucket=_bucket(), Key=key)["Body"]
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    found = digest.hexdigest()
    if found != sha256.lower():
        raise DocumentProblem("文件摘要与声明的 sha256 不符")
    return Stored(key, length, stored_type, found)


def read(key: str) -> bytes:
    return bytes(_s3().get_object(Bucket=_bucket(), Key=key)["Body"].read())
