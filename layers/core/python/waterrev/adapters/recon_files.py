"""Where the daily reconciliation finds the channels' statements and the bank's credit file
(docs/SYS009.md): a bucket the channels deliver to in the cloud (WATERREV_RECON_BUCKET), a directory
locally and in the tests (WATERREV_RECON_DIR, where the simulators write). A file not there is None;
a name never leaves the store's root.

S3 answers a key that does not exist with 404 NoSuchKey only to a caller allowed s3:ListBucket on the
bucket (infra/constructs/recon_files.py grants it); to any other it answers 403 AccessDenied, which is -
as any other error - the store unavailable (RecordStoreError), never a missing file."""

from __future__ import annotations

from pathlib import Path

from waterrev.settings import get_settings


class RecordStoreError(RuntimeError):
    pass


def read(name: str) -> bytes | None:
    if ".." in name.split("/") or name.startswith("/"):
        raise RecordStoreError(f"illegal file name {name!r}")
    settings = get_settings()
    if settings.recon_bucket:
        import boto3
        from botocore.exceptions import ClientError

        try:
            body = boto3.client("s3", endpoint_url=settings.s3_endpoint_url).get_object(
                Bucket=settings.recon_bucket, Key=name
            )["Body"]
            return bytes(body.read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):  # not delivered
                return None
            raise RecordStoreError(str(exc)) from None
    if not settings.recon_dir:
        raise RecordStoreError("neither WATERREV_RECON_BUCKET nor WATERREV_RECON_DIR is set")
    path = Path(settings.recon_dir) / name
    return path.read_bytes() if path.is_file() else None
