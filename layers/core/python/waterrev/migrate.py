"""Apply Alembic migrations programmatically (local runner, tests, the deploy-time `job_migrate`), then
the database functions whose source changed (`waterrev.sql`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from waterrev import sql
from waterrev.db import get_engine

_HERE = Path(__file__).parent / "migrations"
_LOCK_KEY = 20_021_001  # advisory lock so concurrent starters never migrate twice


@dataclass(frozen=True)
class Upgrade:
    """The schema revision before and after one `upgrade()` (None: an empty database); `ahead` when
    the database is at a revision this code does not know (see `upgrade`); the database functions
    (re-)created because their source changed, and those the database has but the source no longer."""

    before: str | None
    after: str | None
    ahead: bool = False
    sql_applied: tuple[str, ...] = ()
    sql_orphaned: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.sql_applied)


def upgrade(
    revision: str = "head", *, engine: Engine | None = None, functions_dir: Path = sql.FUNCTIONS_DIR
) -> Upgrade:
    """Migrate to `revision` in one transaction, under a transaction-level advisory lock, then bring
    the database functions up to their source (`apply_functions`) in the same transaction.

    A concurrent caller waits for the lock, then finds the schema already migrated and does nothing.
    The lock is released by the commit or the rollback itself: no unlock that could fail on an
    aborted transaction (hiding the migration's own error) or stay held on a pooled connection.

    A database already past every revision this code knows is left alone (`ahead`): that is what a
    CloudFormation rollback meets when it re-runs the previous `job_migrate` after the new one
    migrated, and failing there would leave the stack in UPDATE_ROLLBACK_FAILED. It relies on what
    the deploy order needs anyway: a migration keeps the previous code working (expand, then contract
    in a later release), since the schema changes before the new code is deployed. Database functions
    follow the code they ship with: past an unknown revision nothing is touched, but a rollback to a
    release whose revision is known re-applies that release's function texts (their hashes differ), so
    the previous code runs with its own functions.

    Last, every permission a catalog route names exists as a grantable button (`sync_permissions`): a
    deployed back office can grant what the code checks, without the demo data.
    """
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with (engine or get_engine()).connect() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        before = _current(connection)
        if before is not None and not _known(config, before):
            return Upgrade(before=before, after=before, ahead=True)  # the rollback ends the transaction
        # Alembic runs inside this transaction (it sees one already begun), DDL included.
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = _current(connection)
        applied, orphaned = apply_functions(connection, functions_dir)
        sync_permissions(connection)
        connection.commit()
    if applied or orphaned:
        from waterrev.logs import get_logger

        get_logger().info(
            "database functions applied from their source",
            extra={"sqlApplied": list(applied), "sqlOrphaned": list(orphaned)},
        )
    return Upgrade(before=before, after=after, sql_applied=applied, sql_orphaned=orphaned)


PERMISSIONS_DIRECTORY = "接口权限"  # system_menu directory holding the permissions routes check


def sync_permissions(connection: Connection) -> tuple[str, ...]:
    """Add every permission string of the catalog's routes that system_menu lacks, as a button under
    one directory, so roles can be granted it; returns those added. Existing rows are never changed."""
    if connection.execute(text("SELECT to_regclass('system_menu')")).scalar() is None:
        return ()
    from waterrev import catalog

    wanted = sorted({r.permission for i in catalog.built() for r in i.routes if r.permission})
    have = set(
        connection.execute(
            text("SELECT permission FROM system_menu WHERE permission = ANY(:p)"), {"p": wanted}
        ).scalars()
    )
    missing = [p for p in wanted if p not in have]
    if not missing:
        return ()
    parent = connection.execute(
        text("SELECT id FROM system_menu WHERE name = :n AND parent_id = 0"), {"n": PERMISSIONS_DIRECTORY}
    ).scalar()
    if parent is None:
        parent = connection.execute(
            text("INSERT INTO system_menu (name, type) VALUES (:n, 1) RETURNING id"),
            {"n": PERMISSIONS_DIRECTORY},
        ).scalar()
    for permission in missing:
        connection.execute(
            text("INSERT INTO system_menu (name, permission, type, parent_id) VALUES (:p, :p, 3, :parent)"),
            {"p": permission, "parent": parent},
        )
    return tuple(missing)


def apply_functions(
    connection: Connection, directory: Path = sql.FUNCTIONS_DIR
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Re-create each function whose file is new or changed since it was last applied (the sha256
    in `schema_sql_object`); return those applied and those recorded with no file any more.

    A function whose signature (parameter types and result) is unchanged is replaced in place
    (`CREATE OR REPLACE`): what depends on it - a trigger, a default - stays, and so does its oid.
    Otherwise every function of the file's name is dropped before the file runs, so a changed
    parameter list or return type replaces the old one rather than adding an overload (and a
    dependent object fails the migration instead of being dropped with it). Stray overloads of the
    name are dropped either way. A removed file drops nothing: the previous code may still call the
    function while a deployment is under way. Before revision 0012 (no bookkeeping table) there is
    nothing to do.
    """
    if connection.execute(text("SELECT to_regclass('schema_sql_object')")).scalar() is None:
        return (), ()
    recorded = {
        str(name): str(sha256)
        for name, sha256 in connection.execute(text("SELECT name, sha256 FROM schema_sql_object"))
    }
    functions = sql.functions(directory)
    applied = []
    for function in functions:
        if recorded.get(function.name) == function.sha256:
            continue
        overloads = _overloads(connection, function.name)
        kept = _replace_in_place(connection, function, overloads)
        for oid, signature, *_ in overloads:
            if oid != kept:
                connection.exec_driver_sql(f"DROP FUNCTION {signature}")
        if kept is None:
            connection.exec_driver_sql(function.text)  # as written: a simple query, $$ bodies and all
        connection.execute(
            text(
                "INSERT INTO schema_sql_object (name, sha256) VALUES (:n, :h) ON CONFLICT (name)"
                " DO UPDATE SET sha256 = EXCLUDED.sha256, applied_time = now()"
            ),
            {"n": function.name, "h": function.sha256},
        )
        applied.append(function.name)
    orphaned = set(recorded) - {function.name for function in functions}
    return tuple(applied), tuple(sorted(orphaned))


_SIGNATURE = (
    "SELECT CAST(p.oid AS bigint), CAST(CAST(p.oid AS regprocedure) AS text),"
    " pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), p.prokind"
    " FROM pg_proc p WHERE p.proname = :n AND p.pronamespace = CAST({schema} AS regnamespace) ORDER BY p.oid"
)
_CREATE = re.compile(r"^(\s*)CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\b", re.IGNORECASE | re.MULTILINE)


def _overloads(connection: Connection, name: str) -> list[tuple[int, str, str, str, str]]:
    """(oid, regprocedure, identity arguments, result, kind) of each function of that name here."""
    rows = connection.execute(text(_SIGNATURE.format(schema="current_schema()")), {"n": name})
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


def _probe(connection: Connection, function: sql.SqlFunction) -> tuple[str, str, str] | None:
    """The signature the file's function would have (identity arguments, result, kind): the file is run
    in a scratch schema inside a savepoint that is rolled back, so nothing of it stays. None when the
    file does not run there (it is then applied the old way, and fails loudly if it cannot)."""
    schema = f"waterrev_probe_{function.name}"[:63]
    savepoint = connection.begin_nested()
    try:
        home = connection.execute(text("SELECT current_schema()")).scalar()
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        connection.execute(text("SELECT set_config('search_path', :p, true)"), {"p": f'"{schema}", "{home}"'})
        connection.exec_driver_sql(function.text)
        row = connection.execute(
            text(_SIGNATURE.format(schema=":s")), {"n": function.name, "s": schema}
        ).first()
        return None if row is None else (str(row[2]), str(row[3]), str(row[4]))
    except DBAPIError:
        return None
    finally:
        savepoint.rollback()


def _replace_in_place(
    connection: Connection, function: sql.SqlFunction, overloads: list[tuple[int, str, str, str, str]]
) -> int | None:
    """Re-create the function with `CREATE OR REPLACE` when one of its overloads has the file's
    signature; the oid kept, or None when there is none to replace (or PostgreSQL refuses the
    replacement, e.g. a renamed parameter: the function is then dropped and created)."""
    if not overloads:
        return None
    signature = _probe(connection, function)
    same = [o for o in overloads if signature is not None and (o[2], o[3], o[4]) == signature]
    if not same:
        return None
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(_CREATE.sub(r"\1CREATE OR REPLACE FUNCTION", function.text, count=1))
    except DBAPIError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return same[0][0]


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _known(config: Config, revision: str) -> bool:
    try:
        ScriptDirectory.from_config(config).get_revision(revision)
    except CommandError:
        return False
    return True
