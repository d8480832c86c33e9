"""Typed settings read from the environment (WATERREV_*), built once per execution environment.

A plain dataclass (not a pydantic model): every function reads settings on its cold path, and
building a model class costs more import time than parsing a dozen variables by hand.
"""

from __future__ import annotations

import dataclasses
import os
from functools import lru_cache

_POSITIVE = frozenset(
    {
        "db_pool_size",
        "access_token_ttl_s",
        "refresh_token_ttl_s",
        "login_max_failures",
        "login_lock_s",
        "verify_code_ttl_s",
        "verify_code_max_attempts",
        "channel_login_window_s",
        "invoice_link_ttl_s",
        "invoice_push_link_ttl_s",
        "attachment_upload_ttl_s",
        "attachment_max_bytes",
        "sys010_timeout_ms",
        "message_max_receives",
        "message_lease_s",
        "withholding_poll_s",
        "document_link_ttl_s",
        "document_max_bytes",
    }
)


@dataclasses.dataclass(frozen=True)
class Settings:
    env: str = "local"  # local | test | dev | prod
    database_url: str | None = None  # full SQLAlchemy URL (local, tests)
    db_secret_arn: str | None = None  # cloud: Secrets Manager secret with username/password
    db_host: str | None = None  # cloud: RDS Proxy endpoint
    db_name: str = "waterrev"
    db_pool_size: int = 1  # one connection per Lambda execution environment
    db_ping_after_idle_s: int = 10  # a pooled connection idle this long is pinged before use
    db_one_trip: int = 1  # 1: each statement in one round trip (waterrev.pgwire); 0: pg8000's own path
    # 1 (the tests): opening a second unit of work while one is open in the same thread is an error.
    # In Lambda the pool holds one connection, so such code waits for itself until the pool times out.
    db_forbid_nested: int = 0
    # CloudWatch namespace of the business metrics (waterrev.metrics; the alarms in infra read the same)
    metrics_namespace: str = "waterrev"
    display_time_zone: str = "Asia/Shanghai"  # times in replies; stored as timestamptz
    access_token_ttl_s: int = 1800
    refresh_token_ttl_s: int = 7 * 24 * 3600
    login_max_failures: int = 5
    login_lock_s: int = 900
    verify_code_ttl_s: int = 300
    verify_code_max_attempts: int = 5
    # Shared secret the channel front ends (WeChat/Alipay mini-program back ends) sign channel
    # logins with. Never in code: from the environment locally, from Secrets Manager in the cloud.
    channel_login_secret: str | None = None
    channel_login_secret_arn: str | None = None
    channel_login_window_s: int = 300
    # Webhook keys of outside platforms: JSON {"IOT": {"key-1": "secret"}}, from the environment
    # locally; in the cloud the same JSON sits in the secret named by webhook_keys_secret_arn.
    webhook_keys: str | None = None
    # Cloud: a Secrets Manager secret holding the same JSON; read only when webhook_keys is unset.
    webhook_keys_secret_arn: str | None = None
    # The bill-run state machine (cloud); unset locally, where moto's interpreter runs the workflow.
    bill_run_state_machine_arn: str | None = None
    # Where SYS-009 sends payment notifications (our IF-EXT-005 route behind API Gateway).
    sys009_notify_url: str | None = None
    # Cloud: a Secrets Manager JSON secret with the SYS-009 connection (see adapters/sys009.py).
    sys009_secret_arn: str | None = None
    # The SYS-009 payment platform (docs/SYS009.md): where to call it, our app id and secret, and
    # its public keys for notifications, JSON {serial: publicKeyPem}.
    sys009_base_url: str | None = None
    sys009_app_id: str | None = None
    sys009_app_secret: str | None = None
    sys009_platform_keys: str | None = None
    # The SYS-008 invoice platform (docs/SYS008.md): where to call it, our app id and secret (requests
    # are HMAC-signed); its writebacks (IF-EXT-007) are verified with the webhook keys of "SYS008".
    sys008_base_url: str | None = None
    sys008_app_id: str | None = None
    sys008_app_secret: str | None = None
    # Cloud: a Secrets Manager JSON secret {"baseUrl", "appId", "appSecret"} instead of the three above.
    sys008_secret_arn: str | None = None
    # Where SYS-008 writes results back (our IF-EXT-007 route behind API Gateway).
    sys008_notify_url: str | None = None
    # Our copies of the invoice files: a private S3 bucket; customers get presigned links that live
    # invoice_link_ttl_s (a download) or invoice_push_link_ttl_s (a link sent by e-mail or SMS).
    invoice_bucket: str = "waterrev-invoices-local"
    invoice_link_ttl_s: int = 600
    invoice_push_link_ttl_s: int = 3 * 24 * 3600
    # Attachments of online applications (IF-CS-006): customers upload straight to this private bucket
    # through a presigned POST that lives attachment_upload_ttl_s and allows at most attachment_max_bytes.
    attachment_bucket: str = "waterrev-attachments-local"
    attachment_upload_ttl_s: int = 900
    attachment_max_bytes: int = 10 * 1024 * 1024
    # IF-REV-010 statistics exports: a private bucket (objects expire after a few days); the XLSX is handed
    # out only as a presigned GET living export_link_ttl_s.
    export_bucket: str = "waterrev-exports-local"
    export_link_ttl_s: int = 300
    # Local and tests only: the S3 endpoint (moto's server on loopback); unset in the cloud.
    s3_endpoint_url: str | None = None
    # The SYS-010 message service (docs/SYS010.md): where to call it and our app id and secret, or (in
    # the cloud) a Secrets Manager JSON secret {"baseUrl", "appId", "appSecret"}. Its result callbacks
    # are signed with the webhook keys of platform SYS010 (waterrev.webhook).
    sys010_secret_arn: str | None = None
    sys010_base_url: str | None = None
    sys010_app_id: str | None = None
    sys010_app_secret: str | None = None
    sys010_callback_url: str | None = None  # our result-callback route, sent with every message
    sys010_timeout_ms: int = 5000  # read timeout of a call to SYS-010 (connect: at most 2 s)
    # The message queue (SQS) and its dead-letter queue; locally, moto's endpoint.
    message_queue_url: str | None = None
    message_dlq_url: str | None = None
    sqs_endpoint_url: str | None = None
    message_retry_base_s: int = 30  # backoff after the first failed delivery; doubles each time
    message_retry_max_s: int = 900
    message_max_receives: int = 5  # the queue's maxReceiveCount: the last attempt before the DLQ
    message_lease_s: int = 60  # a claimed message another consumer may take over after this long
    # Personal data at rest (bank accounts: waterrev.crypto): the key that wraps the data keys. Locally
    # and in tests a key file (created on first use); in the cloud a KMS key (id or ARN).
    data_key_file: str | None = None
    kms_key_id: str | None = None
    kms_endpoint_url: str | None = None  # tests only: moto's KMS
    # Bank file transfer credentials (credentialRef -> secret): a local JSON file {ref: {...}}, or in the
    # cloud one Secrets Manager secret per reference, named by its ARN prefix + ref.
    bank_credentials_file: str | None = None
    bank_credentials_secret_prefix: str | None = None
    secrets_endpoint_url: str | None = None  # tests only: moto's Secrets Manager
    # The withholding-batch state machine (cloud); unset locally, where moto's interpreter runs it.
    withholding_state_machine_arn: str | None = None
    withholding_poll_s: int = (
        300  # how long a batch waits for IF-EXT-002 before looking for its return itself
    )
    # The e-signature service (docs/ESIGN.md): where to call it and our app id and secret (requests are
    # HMAC-signed), or (in the cloud) a Secrets Manager JSON secret {"baseUrl", "appId", "appSecret"}.
    # Its signing callbacks (IF-INST-004) are verified with the webhook keys of platform ESIGN.
    esign_base_url: str | None = None
    esign_app_id: str | None = None
    esign_app_secret: str | None = None
    esign_secret_arn: str | None = None
    esign_notify_url: str | None = None  # our IF-INST-004 route, sent with every signing request
    # Connection-application documents (attachments, contracts, signed contracts): a private bucket;
    # uploads go straight to it through presigned PUT links that live document_link_ttl_s.
    document_bucket: str = "waterrev-documents-local"
    document_link_ttl_s: int = 900
    document_max_bytes: int = 20 * 1024 * 1024
    # The daily three-way reconciliation's files (the channels' statements, the bank's credits;
    # docs/SYS009.md): a local directory, or in the cloud a bucket the channels deliver to.
    recon_dir: str | None = None
    recon_bucket: str | None = None


_PREFIX = "WATERREV_"


def _from_env() -> Settings:
    values: dict[str, object] = {}
    for field in dataclasses.fields(Settings):
        raw = os.environ.get(_PREFIX + field.name.upper())
        if raw is None:
            continue
        if field.type in ("int", int):
            try:
                number = int(raw)
            except ValueError:
                raise ValueError(f"{_PREFIX}{field.name.upper()} must be an integer, not {raw!r}") from None
            if field.name in _POSITIVE and number <= 0:
                raise ValueError(f"{_PREFIX}{field.name.upper()} must be greater than 0")
            values[field.name] = number
        else:
            values[field.name] = raw
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _from_env()


def reset_settings() -> None:
    """Forget cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
