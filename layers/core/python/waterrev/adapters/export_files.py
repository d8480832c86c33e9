"""The statistics exports in S3 (a private bucket whose objects expire), and the time-limited links to them.

An export is written once under `exports/<exportNo>.xlsx` and handed out only as a presigned GET that
lives `export_link_ttl_s` (minutes): the link is the permission, so it is short. Locally and in the tests
the bucket lives on moto's S3 server (waterrev.local.s3, WATERREV_S3_ENDPOINT_URL).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_CLIENT: list[Any] = []
_LOCK = threading.Lock()
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREFIX = "exports/"


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


def key_for(export_no: str) -> str:
    return f"{PREFIX}{_SAFE.sub('_', export_no)}.xlsx"


def store(key: str, path: str) -> str:
    """Upload the file at `path` (streamed from disk, never read into memory)."""
    from waterrev.settings import get_settings

    _s3().upload_file(
        path,
        get_settings().export_bucket,
        key,
        ExtraArgs={"ContentType": XLSX, "ServerSideEncryption": "AES256"},
    )
    return key


def link(key: str, filename: str) -> str:
    """A presigned GET of the export, living export_link_ttl_s seconds, downloaded as `filename`."""
    from waterrev.settings import get_settings

    s = get_settings()
    params = {
        "Bucket": s.export_bucket,
        "Key": key,
        "ResponseContentDisposition": f'attachment; filename="{_SAFE.sub("_", filename)}"',
    }
    return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=s.export_link_ttl_s))
