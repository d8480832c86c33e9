"""Session-wide: a real PostgreSQL (embedded pgserver unless WATERREV_TEST_DATABASE_URL is set),
migrated once, with the demo data set loaded; settings for the test environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `functions.<name>.handler`, as the gateway imports them

os.environ.update(
    WATERREV_ENV="test",
    WATERREV_CHANNEL_LOGIN_SECRET="test-channel-secret-not-for-production",
    WATERREV_DB_POOL_SIZE="8",  # concurrency tests run several requests in threads of one process
    WATERREV_DB_FORBID_NESTED="1",  # but a request never holds two connections: Lambda's pool has one
    POWERTOOLS_SERVICE_NAME="waterrev",
    POWERTOOLS_METRICS_NAMESPACE="waterrev",
    AWS_DEFAULT_REGION="cn-north-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    # personal data at rest (waterrev.crypto): the local key file, made on first use
    WATERREV_DATA_KEY_FILE=str(ROOT / ".pgtest" / "data-key"),
)


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests import piilog

    piilog.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No log line of the whole run - ours in this process, every local stack's - shows a mobile, an ID
    number or a bank account unmasked; the run fails if one does."""
    from tests import piilog

    found = piilog.leaks(piilog.all_lines())
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep(
                "=", f"{len(found)} log lines with an unmasked mobile, ID number or bank account"
            )
            for line in found[:20]:
                reporter.write_line(line[:500])
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _needs_db(session: pytest.Session) -> bool:
    return any("unit" not in str(item.path) and "infra" not in str(item.path) for item in session.items)


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    from waterrev.local import pg

    server = None
    base = os.environ.get("WATERREV_TEST_DATABASE_URL")
    if not base:
        server, base = pg.start(ROOT / ".pgtest" / "pgdata", cleanup=True)
    url = pg.create_database(base, "waterrev_test")
    yield url
    from tests.support import dispose_behind
    from waterrev.db import dispose_engine

    dispose_engine()
    dispose_behind()
    if server is not None:
        server.cleanup()


@pytest.fixture(scope="session")
def db(database_url: str) -> str:
    """A migrated database with the demo data set; returns its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    os.environ["WATERREV_DATABASE_URL"] = database_url
    from waterrev import migrate
    from waterrev.db import dispose_engine
    from waterrev.local import demo
    from waterrev.settings import reset_settings

    reset_settings()
    dispose_engine()
    migrate.upgrade()
    demo.load(months=12)
    from waterrev.local import stepfunctions

    stepfunctions.plug_in()  # bill runs start on moto's Step Functions, as under `make run`
    return database_url
