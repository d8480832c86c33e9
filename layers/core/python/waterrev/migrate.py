"""Apply Alembic migrations programmatically (local runner, tests, the deploy-time `job_migrate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text

from waterrev.db import get_engine

_HERE = Path(__file__).parent / "migrations"
_LOCK_KEY = 20_021_001  # advisory lock so concurrent starters never migrate twice


@dataclass(frozen=True)
class Upgrade:
    """The schema revision before and after one `upgrade()` (None: an empty database); `ahead` when
    the database is at a revision this code does not know (see `upgrade`)."""

    before: str | None
    after: str | None
    ahead: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(revision: str = "head") -> Upgrade:
    """Migrate to `revision` in one transaction, under a transaction-level advisory lock.

    A concurrent caller waits for the lock, then finds the schema already migrated and does nothing.
    The lock is released by the commit or the rollback itself: no unlock that could fail on an
    aborted transaction (hiding the migration's own error) or stay held on a pooled connection.

    A database already past every revision this code knows is left alone (`ahead`): that is what a
    CloudFormation rollback meets when it re-runs the previous `job_migrate` after the new one
    migrated, and failing there would leave the stack in UPDATE_ROLLBACK_FAILED. It relies on what
    the deploy order needs anyway: a migration keeps the previous code working (expand, then contract
    in a later release), since the schema changes before the new code is deployed.
    """
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with get_engine().connect() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        before = _current(connection)
        if before is not None and not _known(config, before):
            return Upgrade(before=before, after=before, ahead=True)  # the rollback ends the transaction
        # Alembic runs inside this transaction (it sees one already begun), DDL included.
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = _current(connection)
        connection.commit()
    return Upgrade(before=before, after=after)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _known(config: Config, revision: str) -> bool:
    try:
        ScriptDirectory.from_config(config).get_revision(revision)
    except CommandError:
        return False
    return True
