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
