import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _database(db: str) -> None:
    """Every integration test runs on the migrated database with the demo data set."""


@pytest.fixture(scope="session")
def _sql_tracer(db: str) -> Iterator[None]:
    """The SQL tracer (tests/sqltrace.py) on the driver for the whole session."""
    from sqlalchemy import create_engine, text

    from tests import sqltrace
    from waterrev import sql

    engine = create_engine(db)
    with engine.connect() as conn:
        known = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
        )
    engine.dispose()
    uninstall = sqltrace.install(known, {f.name: f.text for f in sql.functions()})
    yield
    uninstall()
    if report := os.environ.get("WATERREV_SQLTRACE_REPORT"):
        Path(report).write_text(sqltrace.report() + "\n", encoding="utf-8")


@pytest.fixture(autouse=True)
def _declared_tables_only(_sql_tracer: None) -> Iterator[None]:
    """A test fails when an interface it called touched a table the catalog does not declare."""
    from tests import sqltrace

    sqltrace.take_violations()
    yield
    if violations := sqltrace.take_violations():
        pytest.fail("\n".join(violations), pytrace=False)


@pytest.fixture
def sys009(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The SYS-009 simulator on a free loopback port, our settings pointing at it. Notifications go
    to a small HTTP server that hands them to the real IF-EXT-005 handler (as API Gateway would)."""
    import json
    import secrets

    from tests.support import NotifyRelay
    from waterrev.local import sys009_sim
    from waterrev.settings import reset_settings

    relay = NotifyRelay()
    app_secret = secrets.token_hex(16)
    sim = sys009_sim.start(port=0, app_id="waterrev-test", app_secret=app_secret, retry_scale=0.001)
    monkeypatch.setenv("WATERREV_SYS009_BASE_URL", sim.base_url)
    monkeypatch.setenv("WATERREV_SYS009_APP_ID", "waterrev-test")
    monkeypatch.setenv("WATERREV_SYS009_APP_SECRET", app_secret)
    monkeypatch.setenv("WATERREV_SYS009_PLATFORM_KEYS", json.dumps(sim.public_keys()))
    monkeypatch.setenv("WATERREV_SYS009_NOTIFY_URL", relay.url)
    reset_settings()
    yield sim
    sim.stop()
    relay.stop()
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def impatient_client(sys009: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Our SYS-009 client with a 0.3 s timeout (the simulator answers after 1 s while timeoutSeconds=1)."""
    from waterrev.adapters.sys009 import Sys009Client
    from waterrev.payments import orders as payments
    from waterrev.settings import get_settings

    s = get_settings()
    client = Sys009Client(
        s.sys009_base_url or "", s.sys009_app_id or "", s.sys009_app_secret or "", timeout_s=0.3
    )
    monkeypatch.setattr(payments, "_platform", lambda: client)
    return client


@pytest.fixture(scope="module")
def admin() -> str:
    """The demo back-office administrator's access token (scope ALL, every permission), one per module."""
    from tests.support import admin_login

    return admin_login()


@pytest.fixture(scope="session")
def _invoice_platform() -> Iterator[Any]:
    """The SYS-008 simulator and the local S3 (moto's server) for the session; writebacks reach the real
    IF-EXT-007 handler through a relay standing where API Gateway would."""
    from tests.support import NotifyRelay
    from waterrev.local import s3, sys008_sim

    relay = NotifyRelay("/open-api/invoice/result")
    sim = sys008_sim.start(port=0, app_id="waterrev-test", app_secret="sys008-test-secret", retry_scale=0.05)
    endpoint = s3.start()
    yield sim, relay, endpoint
    sim.stop()
    relay.stop()


@pytest.fixture
def sys008(_invoice_platform: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The SYS-008 simulator (its behaviour reset), our settings pointing at it, its writeback key known."""
    import json

    from waterrev.adapters import invoice_files
    from waterrev.local import sys008_sim
    from waterrev.settings import reset_settings

    sim, relay, endpoint = _invoice_platform
    sim.reset()
    monkeypatch.setenv("WATERREV_SYS008_BASE_URL", sim.base_url)
    monkeypatch.setenv("WATERREV_SYS008_APP_ID", "waterrev-test")
    monkeypatch.setenv("WATERREV_SYS008_APP_SECRET", "sys008-test-secret")
    monkeypatch.setenv("WATERREV_SYS008_NOTIFY_URL", relay.url)
    monkeypatch.setenv("WATERREV_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv(
        "WATERREV_WEBHOOK_KEYS", json.dumps({"SYS008": {sim.key_id: sys008_sim.DEFAULT_CALLBACK_SECRET}})
    )
    reset_settings()
    invoice_files.reset()
    yield sim
    sim.reset()
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the business day (waterrev.clock.today): every amount due is computed as of `on(day)`."""
    from waterrev import clock

    def set_day(day: Any) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    return set_day


@pytest.fixture(scope="session")
def local_queue(db: str) -> Iterator[Any]:
    """moto's SQS with the message queue and its dead-letter queue (maxReceiveCount 5, as deployed), and
    the steps the event source mapping and the relay schedule take, for the tests to run one by one."""
    from waterrev.local import messaging

    queue = messaging.start(max_receives=5)
    yield queue
    queue.stop()


@pytest.fixture
def message_service(local_queue: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The SYS-010 simulator on a free loopback port, our settings pointing at it, its signed result
    callbacks relayed to the real webhook route; the queue empty, retries without backoff, and messages
    queued by earlier tests set aside (closed), so what goes out is this test's."""
    import json
    import secrets
    from types import SimpleNamespace

    from tests.support import ResultRelay, sql_exec
    from waterrev.local import sys010_sim
    from waterrev.settings import reset_settings
    from waterrev.webhook import reset_keys

    relay = ResultRelay()
    app_secret, key = secrets.token_hex(16), secrets.token_hex(16)
    sim = sys010_sim.start(app_secret=app_secret, callback_keys={"k-sys010": key}, callback_scale=0.01)
    monkeypatch.setenv("WATERREV_SYS010_BASE_URL", sim.base_url)
    monkeypatch.setenv("WATERREV_SYS010_APP_ID", sys010_sim.DEFAULT_APP_ID)
    monkeypatch.setenv("WATERREV_SYS010_APP_SECRET", app_secret)
    monkeypatch.setenv("WATERREV_SYS010_CALLBACK_URL", relay.url)
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"SYS010": {"k-sys010": key}}))
    monkeypatch.setenv("WATERREV_MESSAGE_RETRY_BASE_S", "0")
    reset_settings()
    reset_keys()
    local_queue.point_here()
    local_queue.purge()
    sql_exec("UPDATE biz_message SET dispatch_state = 'CLOSED' WHERE dispatch_state IN ('NEW', 'QUEUED')")
    yield SimpleNamespace(sim=sim, queue=local_queue, relay=relay, key=key, key_id="k-sys010")
    sim.stop()
    relay.stop()
    monkeypatch.undo()
    reset_settings()
    reset_keys()


@pytest.fixture(scope="session")
def _bank_channel(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The bank's file channel for the session: the SFTP server (chrooted) and the bank's processor
    (waterrev.local.bank_sim), its receipts (IF-EXT-002) relayed to the real handler; the credentials in a
    local secret file; a DEFAULT transfer configuration row for channel TBANK."""
    import json
    import os
    import secrets

    from tests.support import NotifyRelay
    from waterrev.local import bank_sim

    relay = NotifyRelay("/open-api/bank/withholding/return")
    root = tmp_path_factory.mktemp("bank")
    password, notify_secret = secrets.token_hex(12), secrets.token_hex(16)
    sim = bank_sim.start(
        root / "sftp",
        users={"waterrev": password},
        notify_url=relay.url,
        notify_key=("bank-test", notify_secret),
    )
    credentials = root / "bank-credentials.json"
    credentials.write_text(json.dumps({"bank/test": {"password": password}}))
    # for the session: a batch's workflow may still be polling when its test has ended
    os.environ["WATERREV_BANK_CREDENTIALS_FILE"] = str(credentials)
    yield sim, relay, credentials, notify_secret
    from botocore.exceptions import ClientError

    from waterrev.local import stepfunctions

    runtime = stepfunctions.get_runtime()  # batches still waiting for a return must not outlive the database
    try:
        for page in runtime.client.get_paginator("list_executions").paginate(
            stateMachineArn=runtime.withholding_arn, statusFilter="RUNNING"
        ):
            for execution in page["executions"]:
                runtime.client.stop_execution(executionArn=execution["executionArn"])
    except ClientError as exc:  # a test that reset moto took the state machine and its executions with it
        if exc.response.get("Error", {}).get("Code") != "StateMachineDoesNotExist":
            raise


@pytest.fixture(scope="session")
def _esign_service() -> Iterator[Any]:
    """The e-signature simulator and the local S3 (moto's server) for the session; its signed callbacks
    reach the real IF-INST-004 handler through a relay standing where API Gateway would."""
    from tests.support import NotifyRelay
    from waterrev.local import esign_sim, s3

    relay = NotifyRelay("/admin-api/installation/contract/sign/callback")
    sim = esign_sim.start(port=0, app_secret="esign-test-secret", retry_scale=0.02)
    endpoint = s3.start("waterrev-documents-test")
    yield sim, relay, endpoint
    sim.stop()
    relay.stop()


@pytest.fixture
def bank(_bank_channel: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The bank simulator (its behaviour reset), our settings pointing at its credentials and its receipt
    key, the workflow polling every 2 s, and the channel TBANK configured (scope TENANT_CHANNEL)."""
    import json

    from tests.support import sql_exec
    from waterrev.local.bank_sim import Behaviour
    from waterrev.settings import reset_settings

    sim, _relay, credentials, notify_secret = _bank_channel
    sim.behaviour = Behaviour()
    monkeypatch.setenv("WATERREV_BANK_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("WATERREV_WEBHOOK_KEYS", json.dumps({"BANK": {"bank-test": notify_secret}}))
    monkeypatch.setenv("WATERREV_WITHHOLDING_POLL_S", "2")
    reset_settings()
    # Every field at the most specific scope (the company and TBANK): rows other tests (the API fuzz run)
    # save for the company or for every channel cannot reach these batches.
    sql_exec(
        "INSERT INTO bk_transfer_config (tenant_id, channel_code, protocol, host, port, username, credential_ref,"
        " host_key, send_dir, back_dir, reconcile_dir, send_file_template, back_file_template, reconcile_file_template)"
        " SELECT id, 'TBANK', 'SFTP', '127.0.0.1', :port, 'waterrev', 'bank/test', :hk, '/TBANK/send', '/TBANK/back',"
        " '/TBANK/reconcile', 'WH_{channelCode}_{batchNo}.txt', 'WH_{channelCode}_{batchNo}_RET_{fileSerialNo}.txt',"
        " 'WH_{channelCode}_{batchNo}_STMT.txt' FROM system_dept WHERE parent_id = 0 ORDER BY id LIMIT 1"
        " ON CONFLICT (COALESCE(tenant_id, 0), COALESCE(channel_code, '')) DO UPDATE SET protocol = EXCLUDED.protocol,"
        " host = EXCLUDED.host, port = EXCLUDED.port, username = EXCLUDED.username, credential_ref = EXCLUDED.credential_ref,"
        " host_key = EXCLUDED.host_key, send_dir = EXCLUDED.send_dir, back_dir = EXCLUDED.back_dir,"
        " reconcile_dir = EXCLUDED.reconcile_dir, send_file_template = EXCLUDED.send_file_template,"
        " back_file_template = EXCLUDED.back_file_template, reconcile_file_template = EXCLUDED.reconcile_file_template,"
        " enabled = true",
        {"port": sim.port, "hk": sim.host_key},
    )
    yield sim
    sim.behaviour = Behaviour()
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def esign(_esign_service: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The e-signature simulator (its behaviour reset), our settings pointing at it and at the documents
    bucket, its callback key known."""
    import json

    from waterrev.adapters import documents
    from waterrev.local import esign_sim
    from waterrev.settings import reset_settings
    from waterrev.webhook import reset_keys

    sim, relay, endpoint = _esign_service
    sim.reset()
    monkeypatch.setenv("WATERREV_ESIGN_BASE_URL", sim.base_url)
    monkeypatch.setenv("WATERREV_ESIGN_APP_ID", esign_sim.DEFAULT_APP_ID)
    monkeypatch.setenv("WATERREV_ESIGN_APP_SECRET", "esign-test-secret")
    monkeypatch.setenv("WATERREV_ESIGN_NOTIFY_URL", relay.url)
    monkeypatch.setenv("WATERREV_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("WATERREV_DOCUMENT_BUCKET", "waterrev-documents-test")
    monkeypatch.setenv(
        "WATERREV_WEBHOOK_KEYS", json.dumps({"ESIGN": {sim.key_id: esign_sim.DEFAULT_CALLBACK_SECRET}})
    )
    reset_settings()
    reset_keys()
    documents.reset()
    yield sim
    sim.settle()
    sim.reset()
    monkeypatch.undo()
    reset_settings()
    reset_keys()
    documents.reset()
