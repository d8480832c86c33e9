"""Local S3: moto's server on a loopback port holding the invoice and attachment buckets, so a presigned link is a real
link a browser can open. One per process, started on first use; `WATERREV_S3_ENDPOINT_URL` points the
invoice files adapter at it. A server rather than `mock_aws`: the rest of the local stack's boto3 calls
still go where they would."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

_server: list[Any] = []
_lock = threading.Lock()


def start(bucket: str | None = None) -> str:
    """The endpoint URL of the local S3 (started once), with the bucket created."""
    with _lock:
        if not _server:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _server.append(server)
        host, port = _server[0].get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["WATERREV_S3_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "cn-north-1")
    from waterrev.adapters import export_files, invoice_files
    from waterrev.settings import get_settings, reset_settings

    reset_settings()
    invoice_files.reset()
    export_files.reset()
    import boto3

    from waterrev.adapters import attachments

    attachments.reset()
    names = [
        bucket or get_settings().invoice_bucket,
        get_settings().attachment_bucket,
        get_settings().export_bucket,
    ]
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for name in names:
        if name not in existing:
            client.create_bucket(Bucket=name)
    return endpoint


def stop() -> None:
    with _lock:
        if _server:
            _server.pop().stop()
