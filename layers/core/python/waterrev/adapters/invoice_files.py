"""Our copies of the invoice files in S3 (a private bucket), and the time-limited links customers get.

The platform's own file address (biz_invoice.file_url) is not one a customer can reach; the file is
copied here when its result arrives and handed out only as a presigned GET that lives
`invoice_link_ttl_s` (a download) or `invoice_push_link_ttl_s` (a link sent by e-mail or SMS).
Locally and in the tests the bucket lives on moto's S3 server (waterrev.local.s3), named by
WATERREV_S3_ENDPOINT_URL; in the cloud the function's role may read and write this bucket only.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_CLIENT: list[Any] = []
_LOCK = threading.Lock()
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


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


def key_for(application_no: str, invoice_number: str | None) -> str:
    """Where an invoice's file lives: one object per invoice, so a repeated copy overwrites itself."""
    name = _SAFE.sub("_", invoice_number or "file")
    return f"invoices/{_SAFE.sub('_', application_no)}/{name}.pdf"


def store(key: str, content: bytes) -> str:
    from waterrev.settings import get_settings

    _s3().put_object(
        Bucket=get_settings().invoice_bucket,
        Key=key,
        Body=content,
        ContentType="application/pdf",
        ServerSideEncryption="AES256",
    )
    return key


def link(key: str, *, ttl_s: int | None = None, filename: str | None = None) -> str:
    """A presigned GET of the object, living `ttl_s` seconds (default: the download lifetime)."""
    from waterrev.settings import get_settings

    s = get_settings()
    params: dict[str, Any] = {"Bucket": s.invoice_bucket, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{_SAFE.sub("_", filename)}"'
    return str(
        _s3().generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_s or s.invoice_link_ttl_s)
    )
