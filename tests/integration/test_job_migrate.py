"""The deploy-time migration task on the session's (already migrated) database: a re-run changes
nothing, concurrent runs wait for each other on the advisory lock and both succeed, a database
ahead of the code is left alone, and a failure raises its own error and leaves no lock behind.

The shared schema is never dropped; the one test that moves `alembic_version` puts it back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from functions.job_migrate.handler import handler
from waterrev import migrate
from waterrev.local.gateway import FakeLambdaContext

pytestmark = pytest.mark.integration

TRIGGER_EVENT: dict[str, Any] = {}  # the CDK trigger invokes with no payload


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(migrate._HERE))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


@pytest.fixture
def other_session(db: str) -> Iterator[Engine]:
    """A connection of our own, outside the application's engine (the lock holder, the observer)."""
    engine = create_engine(db)
    yield engine
    engine.dispose()


def invoke() -> dict[str, Any]:
    return handler(TRIGGER_EVENT, FakeLambdaContext("job_migrate"))


def test_given_a_migrated_database_when_job_migrate_runs_then_it_reports_head_and_changes_nothing(
    other_session: Engine,
) -> None:
    summary = invoke()

    assert summary == {"before": head(), "after": head(), "changed": False, "ahead": False}
    with other_session.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head()]


def test_given_two_concurrent_runs_when_the_lock_is_held_then_both_wait_and_both_succeed(
    other_session: Engine,
) -> None:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(invoke())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with other_session.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate._LOCK_KEY})
        holder.commit()
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        waiting = 0
        deadline = time.monotonic() + 20
        while waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            waiting = holder.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND NOT granted"
                ),
                {"k": migrate._LOCK_KEY},
            ).scalar_one()
            holder.commit()
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate._LOCK_KEY})
        holder.commit()
    for thread in threads:
        thread.join(timeout=60)

    assert waiting == 2  # both runs queued on the migration lock
    assert errors == []
    assert results == [{"before": head(), "after": head(), "changed": False, "ahead": False}] * 2


def test_given_a_database_ahead_of_the_code_when_job_migrate_runs_then_it_leaves_it_alone(
    other_session: Engine,
) -> None:
    # What a CloudFormation rollback meets: the previous job_migrate after the new one migrated.
    with other_session.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_a_newer_release'"))
    try:
        summary = invoke()
    finally:
        with other_session.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head()})

    assert summary == {
        "before": "from_a_newer_release",
        "after": "from_a_newer_release",
        "changed": False,
        "ahead": True,
    }


def test_given_a_failing_migration_when_job_migrate_runs_then_it_raises_its_error_logs_and_releases_the_lock(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(config: Config, _revision: str) -> None:
        # A failing statement aborts the transaction, as a failing migration would.
        config.attributes["connection"].execute(text("ALTER TABLE no_such_table ADD COLUMN x int"))

    monkeypatch.setattr(migrate.command, "upgrade", broken)
    with pytest.raises(ProgrammingError, match="no_such_table"):  # its own error, not a later one
        invoke()
    monkeypatch.undo()

    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "migration failed: the deployment stops here"
    ]
    # The lock went with the rolled-back transaction: the next run does not wait for it.
    with_timeout = threading.Thread(target=invoke, daemon=True)
    with_timeout.start()
    with_timeout.join(timeout=30)
    assert not with_timeout.is_alive()


def test_given_a_function_whose_source_changed_when_job_migrate_runs_then_it_applies_and_logs_it(
    other_session: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # What a release with a changed rev_audit.sql meets: the recorded hash is not the file's.
    with other_session.begin() as conn:
        conn.execute(text("UPDATE schema_sql_object SET sha256 = repeat('0', 64) WHERE name = 'rev_audit'"))

    summary = invoke()
    again = invoke()

    assert summary == {"before": head(), "after": head(), "changed": True, "ahead": False}
    (applied,) = [
        r for r in caplog.records if r.getMessage() == "database functions applied from their source"
    ]
    assert (applied.sqlApplied, applied.sqlOrphaned) == (["rev_audit"], [])  # type: ignore[attr-defined]
    assert again["changed"] is False
