"""Attachments of online applications (IF-CS-006) in a private S3 bucket.

A customer never sends a file through the API: it asks for an upload link and posts the file straight
to S3. The link is a presigned POST whose policy S3 itself enforces - the exact key, the declared
content type, a size between 1 byte and the declared size, and an expiry of `attachment_upload_ttl_s`.
Before an application uses the attachment, `inspect` reads the object back: its size, its content type
and its SHA-256 must be the ones declared when the link was issued (the digest recorded in
biz_content_attach). Locally and in the tests the bucket lives on moto's S3 server (waterrev.local.s3).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, NamedTuple

_CLIENT: list[Any] = []
_LOCK = threading.Lock()
PREFIX = "attachments/"


def _s3() -> Any:
    with _LOCK:
        if not _CLIENT:
            import boto3
            from botocore.config import Config

            from waterrev.settings import get_settings

            s = get_settings()
            _CLIENT.append(
                boto3.client(
                    "s3",
                    endpoint_url=s.s3_endpoint_url,
                    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
                )
            )
        return _CLIENT[0]


def reset() -> None:
    """Forget the client (tests and the local runner change the endpoint)."""
    with _LOCK:
        _CLIENT.clear()


def upload_form(key: str, content_type: str, size: int, ttl_s: int) -> dict[str, Any]:
    """A presigned POST for exactly this key, type and at most `size` bytes: {url, fields}."""
    from waterrev.settings import get_settings

    form = _s3().generate_presigned_post(
        Bucket=get_settings().attachment_bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, size]],
        ExpiresIn=ttl_s,
    )
    return {"url": str(form["url"]), "fields": {str(k): str(v) for k, v in form["fields"].items()}}


class Stored(NamedTuple):
    size: int
    content_type: str
    sha256: str


def inspect(key: str, max_bytes: int) -> Stored | None:
    """What S3 holds at `key` (None if nothing was uploaded): size, type and the SHA-256 of its bytes
    (read only when the size is within `max_bytes`)."""
    from botocore.exceptions import ClientError

    from waterrev.settings import get_settings

    bucket = get_settings().attachment_bucket
    try:
        head = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError:
        return None
    size = int(head["ContentLength"])
    content_type = str(head.get("ContentType") or "")
    if size > max_bytes:
        return Stored(size, content_type, "")
    digest = hashlib.sha256()
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(1 << 16), b""):
        digest.update(chunk)
    return Stored(size, content_type, digest.hexdigest())
