"""The repeatable step of `migrate.upgrade()`: database functions follow their `.sql` files.

Each test migrates a scratch database of its own (next to the session's) from empty, with a copy of
the function files it may change: a new file is created, a changed one re-created (a changed
signature replacing the old one), an unchanged one left alone, a removed one reported; a second
upgrade does nothing; a database migrated before the functions left the migrations is made current;
a file that fails leaves nothing behind; a function something depends on (a trigger) is replaced in
place while its signature holds, and a change of signature fails instead of dropping what depends on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from waterrev import migrate, sql
from waterrev.local import pg

pytestmark = pytest.mark.integration

ALL = tuple(f.name for f in sql.functions())  # every file, by name
PROBE = "CREATE FUNCTION zz_probe({params}) RETURNS int LANGUAGE sql AS $$ SELECT {value} $$;\n"


@pytest.fixture
def scratch(db: str) -> Iterator[Engine]:
    """An empty database of its own on the session's server."""
    url = pg.create_database(db, "waterrev_sqlsrc")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    yield engine
    engine.dispose()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the function files, free to change."""
    folder = tmp_path / "functions"
    shutil.copytree(sql.FUNCTIONS_DIR, folder)
    return folder


def upgrade(engine: Engine, source: Path, revision: str = "head") -> migrate.Upgrade:
    return migrate.upgrade(revision, engine=engine, functions_dir=source)


def overloads(engine: Engine, name: str) -> list[dict[str, Any]]:
    """Each function of that name: its oid, arguments and body."""
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT CAST(oid AS bigint) AS oid, pg_get_function_identity_arguments(oid) AS args,"
                    " prosrc FROM pg_proc WHERE proname = :n ORDER BY oid"
                ),
                {"n": name},
            ).mappings()
        ]


def recorded(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.name: r.sha256 for r in conn.execute(text("SELECT name, sha256 FROM schema_sql_object"))}


def test_a_fresh_database_gets_every_function_and_a_second_upgrade_is_a_no_op(
    scratch: Engine, source: Path
) -> None:
    first = upgrade(scratch, source)
    oids = {name: overloads(scratch, name) for name in ALL}

    second = upgrade(scratch, source)

    assert first.before is None and first.sql_applied == ALL and first.changed
    assert recorded(scratch) == {f.name: f.sha256 for f in sql.functions(source)}
    assert all(len(found) == 1 for found in oids.values())
    assert (second.before, second.sql_applied, second.sql_orphaned, second.changed) == (
        first.after,
        (),
        (),
        False,
    )
    assert {name: overloads(scratch, name) for name in ALL} == oids  # nothing dropped or re-created


def test_a_changed_file_is_applied_again_and_the_unchanged_ones_are_not(
    scratch: Engine, source: Path
) -> None:
    upgrade(scratch, source)
    untouched = {name: overloads(scratch, name) for name in ALL if name != "rev_audit"}
    audit = source / "rev_audit.sql"
    audit.write_text(audit.read_text(encoding="utf-8").replace("'REV-003'", "'REV-PROBE'"), encoding="utf-8")

    result = upgrade(scratch, source)

    assert result.sql_applied == ("rev_audit",) and result.changed
    assert result.before == result.after  # no Alembic revision ran
    (audit_fn,) = overloads(scratch, "rev_audit")
    assert "'REV-PROBE'" in audit_fn["prosrc"]
    assert {name: overloads(scratch, name) for name in untouched} == untouched
    assert recorded(scratch)["rev_audit"] == {f.name: f.sha256 for f in sql.functions(source)}["rev_audit"]


def test_a_new_file_is_created_and_a_changed_signature_replaces_the_old_function(
    scratch: Engine, source: Path
) -> None:
    upgrade(scratch, source)
    (source / "zz_probe.sql").write_text(PROBE.format(params="", value="1"), encoding="utf-8")

    created = upgrade(scratch, source)
    (source / "zz_probe.sql").write_text(PROBE.format(params="p_x int", value="p_x + 1"), encoding="utf-8")
    changed = upgrade(scratch, source)

    assert created.sql_applied == ("zz_probe",) and changed.sql_applied == ("zz_probe",)
    assert [f["args"] for f in overloads(scratch, "zz_probe")] == ["p_x integer"]  # the old one went
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT zz_probe(p_x => 41)")).scalar() == 42


def test_a_removed_file_leaves_its_function_and_is_reported(scratch: Engine, source: Path) -> None:
    (source / "zz_probe.sql").write_text(PROBE.format(params="", value="1"), encoding="utf-8")
    upgrade(scratch, source)
    (source / "zz_probe.sql").unlink()

    result = upgrade(scratch, source)

    assert (result.sql_applied, result.sql_orphaned) == ((), ("zz_probe",))
    assert len(overloads(scratch, "zz_probe")) == 1  # the previous code may still call it


def test_a_database_migrated_before_0012_gets_its_old_functions_replaced_by_the_files(
    scratch: Engine, source: Path
) -> None:
    upgrade(scratch, source, "0011")  # the schema of the previous release, without the bookkeeping
    with scratch.begin() as conn:  # what 0006/0008 left there: other text, and a stray overload
        conn.execute(
            text(
                "CREATE FUNCTION pay_apply_status(p_actor jsonb, p_trade_no text, p_biz_order_no text,"
                " p_status text, p_success_amount numeric, p_notify_time text, p_operator_id bigint)"
                " RETURNS jsonb LANGUAGE sql AS $$ SELECT CAST('{\"from0008\": true}' AS jsonb) $$"
            )
        )
        conn.execute(
            text("CREATE FUNCTION rev_audit(a jsonb, b text) RETURNS void LANGUAGE sql AS $$ SELECT $$")
        )

    result = upgrade(scratch, source)

    assert (result.before, result.after) == ("0011", migrate_head())
    assert result.sql_applied == ALL
    (settle,) = overloads(scratch, "pay_apply_status")
    assert "hold_reason" in settle["prosrc"] and "from0008" not in settle["prosrc"]
    assert [f["args"] for f in overloads(scratch, "rev_audit")] == [
        "p_actor jsonb, p_operation text, p_object_type text, p_object_id text, p_before jsonb, p_after jsonb"
    ]


def test_a_function_file_that_fails_leaves_the_database_as_it_was(scratch: Engine, source: Path) -> None:
    (source / "zz_probe.sql").write_text(
        "CREATE FUNCTION zz_probe() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$ oops;\n",
        encoding="utf-8",
    )

    with pytest.raises(ProgrammingError, match="oops"):
        upgrade(scratch, source)

    with scratch.connect() as conn:  # the revisions went with it: one transaction
        assert conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'rev_audit'")).scalar() == 0


def migrate_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate._HERE))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_every_permission_a_route_checks_exists_after_an_upgrade_without_demo_data(
    scratch: Engine, source: Path
) -> None:
    """Given an empty database (no demo data: a deployment), when it is migrated, then every permission
    a catalog route checks is a grantable system_menu button, and a second upgrade adds none (before,
    only the local demo data created them, so a deployed back office could not grant e.g.
    revenue:collection:query)."""
    from waterrev import catalog

    upgrade(scratch, source)
    again = upgrade(scratch, source)

    with scratch.connect() as conn:
        have = set(conn.execute(text("SELECT permission FROM system_menu WHERE type = 3")).scalars())
        assert migrate.sync_permissions(conn) == ()
    wanted = {r.permission for i in catalog.built() for r in i.routes if r.permission}
    assert wanted and wanted <= have and not again.changed


TRIGGERED = (
    "CREATE FUNCTION zz_stamp() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN NEW.note := '{note}'; RETURN NEW; END\n$$;\n"
)


def _with_trigger(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE zz_stamped (id int PRIMARY KEY, note text)"))
        conn.execute(
            text(
                "CREATE TRIGGER zz_stamped_note BEFORE INSERT ON zz_stamped FOR EACH ROW EXECUTE FUNCTION zz_stamp()"
            )
        )


def _stamp(engine: Engine, row: int) -> str:
    with engine.begin() as conn:
        return str(
            conn.execute(text("INSERT INTO zz_stamped VALUES (:i) RETURNING note"), {"i": row}).scalar()
        )


def test_a_changed_function_a_trigger_depends_on_is_replaced_in_place(scratch: Engine, source: Path) -> None:
    """Given a trigger function applied from its file and a trigger on it, when its body changes (same
    signature), then the step re-creates it in place: the same oid, the trigger kept, the new body in
    force. Before, every function of the name was dropped first, which a dependent trigger refuses."""
    (source / "zz_stamp.sql").write_text(TRIGGERED.format(note="first"), encoding="utf-8")
    upgrade(scratch, source)
    _with_trigger(scratch)
    (before,) = overloads(scratch, "zz_stamp")
    assert _stamp(scratch, 1) == "first"

    (source / "zz_stamp.sql").write_text(TRIGGERED.format(note="second"), encoding="utf-8")
    result = upgrade(scratch, source)

    (after,) = overloads(scratch, "zz_stamp")
    assert result.sql_applied == ("zz_stamp",)
    assert after["oid"] == before["oid"] and "second" in after["prosrc"]
    assert _stamp(scratch, 2) == "second"


def test_a_changed_signature_that_something_depends_on_fails_the_migration(
    scratch: Engine, source: Path
) -> None:
    """Given a trigger on a function, when its file changes its signature (here: a parameter), then the
    upgrade fails and leaves the function, the trigger and the recorded hash as they were: nothing that
    depends on a function is ever dropped with it."""
    (source / "zz_stamp.sql").write_text(TRIGGERED.format(note="first"), encoding="utf-8")
    upgrade(scratch, source)
    _with_trigger(scratch)
    hashes = recorded(scratch)
    (source / "zz_stamp.sql").write_text(
        "CREATE FUNCTION zz_stamp(p_x int) RETURNS int LANGUAGE sql AS $$ SELECT p_x $$;\n", encoding="utf-8"
    )

    with pytest.raises(ProgrammingError, match="other objects depend on it"):
        upgrade(scratch, source)

    assert [f["args"] for f in overloads(scratch, "zz_stamp")] == [""]
    assert recorded(scratch) == hashes and _stamp(scratch, 3) == "first"


def test_in_place_keeps_the_matching_function_and_drops_stray_overloads(
    scratch: Engine, source: Path
) -> None:
    """Given a function with a stray overload beside it (as an old migration could leave), when its file
    changes, then the overload with the file's signature is replaced in place and the stray one dropped;
    a renamed parameter, which CREATE OR REPLACE refuses, is dropped and created instead."""
    (source / "zz_probe.sql").write_text(PROBE.format(params="p_x int", value="p_x + 1"), encoding="utf-8")
    upgrade(scratch, source)
    with scratch.begin() as conn:
        conn.execute(text("CREATE FUNCTION zz_probe(p_x text) RETURNS int LANGUAGE sql AS $$ SELECT 0 $$"))
    (kept,) = [f for f in overloads(scratch, "zz_probe") if f["args"] == "p_x integer"]

    (source / "zz_probe.sql").write_text(PROBE.format(params="p_x int", value="p_x + 2"), encoding="utf-8")
    upgrade(scratch, source)
    (replaced,) = overloads(scratch, "zz_probe")
    (source / "zz_probe.sql").write_text(PROBE.format(params="p_y int", value="p_y + 3"), encoding="utf-8")
    upgrade(scratch, source)
    (renamed,) = overloads(scratch, "zz_probe")

    assert replaced["oid"] == kept["oid"] and "p_x + 2" in replaced["prosrc"]
    assert renamed["args"] == "p_y integer" and renamed["oid"] != kept["oid"]
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT zz_probe(p_y => 1)")).scalar() == 4
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'waterrev_probe%'")
            ).scalar()
            == 0
        )
