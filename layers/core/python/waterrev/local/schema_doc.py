"""Generate docs/SCHEMA.md from a freshly migrated database: every table with its columns (type,
nullability, default, comment), primary key, unique constraints, indexes, foreign keys and checks;
the sequences; the database functions with their signatures and the tables they touch; and which
tables each interface reads and writes (waterrev.catalog.TABLES), both ways.

`python -m waterrev.local.schema_doc` (or `make docs`) migrates a new embedded PostgreSQL - or, with
WATERREV_SCHEMA_DATABASE_URL set, database `waterrev_schema_doc` on that server - and rewrites the
file. The text depends only on the migrations, the function files and the catalog: an integration
test regenerates it and fails when the committed file differs.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text

from waterrev import catalog, sql
from waterrev.local import sqltables
from waterrev.local.gateway import REPO_ROOT

SCHEMA_MD = Path(REPO_ROOT) / "docs" / "SCHEMA.md"
DATABASE = "waterrev_schema_doc"

_TABLES = """
SELECT c.oid, c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""
_COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default, col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = :t AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_CONSTRAINTS = """
SELECT conname AS name, contype AS kind, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE conrelid = :t ORDER BY contype, conname
"""
_INDEXES = """
SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition, x.indisunique AS is_unique
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = :t AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = :t)
ORDER BY i.relname
"""
_SEQUENCES = """
SELECT c.relname AS name, s.seqstart AS start, d.refobjid IS NOT NULL AS owned
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype IN ('a', 'i')
WHERE n.nspname = current_schema() AND c.relkind = 'S' ORDER BY c.relname
"""
_FUNCTIONS = """
SELECT p.proname AS name, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, l.lanname AS language
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = current_schema() ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)
"""


def schema_md(engine: Engine) -> str:
    """The document for the database `engine` reaches."""
    with engine.connect() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        major = server_major(conn)
        tables = [dict(r) for r in conn.execute(text(_TABLES)).mappings()]
        known = {t["name"] for t in tables}
        lines = [
            "# Database schema",
            "",
            f"Generated from a freshly migrated database (PostgreSQL {major}) by `python -m waterrev.local.schema_doc`",
            "(`make docs`); do not edit by hand. The tables come from the Alembic migrations",
            f"(`layers/core/python/waterrev/migrations/versions/`, head `{head}`), the functions from",
            "`layers/core/python/waterrev/sql/functions/`, which tables each interface reads and writes from",
            "`waterrev.catalog.TABLES` (checked against the SQL the tests see each interface send: `tests/sqltrace.py`).",
            "",
            *_interfaces(),
            "",
            "## Tables",
            "",
            " ".join(f"[`{t['name']}`](#{t['name']})" for t in tables),
            "",
        ]
        for table in tables:
            lines += _table(conn, table)
        lines += _sequences(conn)
        lines += _functions(conn, known)
    return "\n".join(lines).rstrip("\n") + "\n"


def server_major(conn: Connection) -> int:
    """The server's major version: how it prints defaults and constraints may differ between them."""
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _names(tables: tuple[str, ...]) -> str:
    return ", ".join(f"`{t}`" for t in tables)


def _interfaces() -> list[str]:
    token = set(catalog.TOKEN_TABLES)
    lines = [
        "## Tables by interface",
        "",
        "`writes`: inserts into, updates or deletes from (and may read); `reads`: only reads. Authentication,",
        "the audit log and the database functions an interface calls are included; *token* stands for the",
        f"tables any route called with a bearer token reads (`api.authenticate`): {_names(catalog.TOKEN_TABLES)}.",
        "",
        "| IF id | name | function | reads | writes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i in catalog.built():
        reads = _names(i.reads)
        if token - set(i.writes) <= set(i.reads):
            reads = ", ".join(["*token*", *(f"`{t}`" for t in i.reads if t not in token)])
        lines.append(f"| {i.if_id} | {i.name} | `{i.function}` | {reads} | {_names(i.writes)} |")
    return lines


def _users(table: str) -> list[str]:
    writers = [i.if_id for i in catalog.built() if table in i.writes]
    readers = [i.if_id for i in catalog.built() if table in i.reads]
    if not writers and not readers:
        return []
    return [
        f"Written by: {', '.join(writers) or '-'}; read by: {', '.join(readers) or '-'}.",
        "",
    ]


def _table(conn: Connection, table: dict[str, Any]) -> list[str]:
    lines = [f"### {table['name']}", ""]
    if table["comment"]:
        lines += [table["comment"], ""]
    lines += ["| column | type | null | default | comment |", "| --- | --- | --- | --- | --- |"]
    for c in conn.execute(text(_COLUMNS), {"t": table["oid"]}).mappings():
        null = "" if c["not_null"] else "null"
        lines.append(
            f"| `{c['name']}` | {_cell(c['type'])} | {null} | {_cell(c['default'])} | {_cell(c['comment'])} |"
        )
    lines.append("")
    kinds = {"p": "Primary key", "u": "Unique", "f": "Foreign keys", "c": "Checks", "x": "Exclusion"}
    found: dict[str, list[str]] = {}
    for k in conn.execute(text(_CONSTRAINTS), {"t": table["oid"]}).mappings():
        definition = re.sub(r"^(PRIMARY KEY|UNIQUE|FOREIGN KEY) ", "", k["definition"])
        found.setdefault(kinds.get(k["kind"], k["kind"]), []).append(f"`{definition}` ({k['name']})")
    for i in conn.execute(text(_INDEXES), {"t": table["oid"]}).mappings():
        using = i["definition"].split(" USING ", 1)[1]
        label = "Unique indexes" if i["is_unique"] else "Indexes"
        found.setdefault(label, []).append(f"`{using}` ({i['name']})")
    for label in (
        "Primary key",
        "Unique",
        "Unique indexes",
        "Indexes",
        "Foreign keys",
        "Checks",
        "Exclusion",
    ):
        if label in found:
            lines += [f"{label}:", *(f"- {_cell(item)}" for item in found[label]), ""]
    return lines + _users(table["name"])


def _sequences(conn: Connection) -> list[str]:
    own = [dict(r) for r in conn.execute(text(_SEQUENCES)).mappings() if not r["owned"]]
    if not own:
        return []
    return [
        "## Sequences",
        "",
        "Besides those of the `bigserial` columns:",
        "",
        *(f"- `{s['name']}` (starts at {s['start']})" for s in own),
        "",
    ]


def _functions(conn: Connection, known: set[str]) -> list[str]:
    sources = {f.name: f for f in sql.functions()}
    access = sqltables.function_access({name: f.text for name, f in sources.items()}, known)
    lines = [
        "## Functions",
        "",
        "Called with named arguments (`docs/DECISIONS.md` 31); what each reads and writes includes the",
        "functions it calls.",
        "",
    ]
    for f in conn.execute(text(_FUNCTIONS)).mappings():
        lines += [
            f"### {f['name']}",
            "",
            f"`{f['name']}({f['arguments']}) RETURNS {f['result']}` ({f['language']})",
            "",
        ]
        source = sources.get(f["name"])
        if source is not None:
            touched = access[f["name"]]
            lines += [
                f"Source: `layers/core/python/waterrev/sql/functions/{f['name']}.sql`. "
                f"Writes: {_names(tuple(sorted(touched.writes))) or '-'}; "
                f"reads: {_names(tuple(sorted(touched.reads - touched.writes))) or '-'}.",
                "",
            ]
    return lines


def fresh_database(base_url: str) -> str:
    """Database `waterrev_schema_doc` next to `base_url`'s, emptied and migrated; its URL."""
    from waterrev import migrate
    from waterrev.local import pg

    url = pg.create_database(base_url, DATABASE)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine=engine)
    finally:
        engine.dispose()
    return url


def write(url: str) -> None:
    engine = create_engine(url)
    try:
        SCHEMA_MD.write_text(schema_md(engine), encoding="utf-8")
    finally:
        engine.dispose()


def main() -> None:
    base = os.environ.get("WATERREV_SCHEMA_DATABASE_URL")
    if base:
        write(fresh_database(base))
        return
    from waterrev.local import pg

    # pgserver touches lock files under XDG_RUNTIME_DIR at exit: one lasting folder, not the temporary one
    runtime = Path(tempfile.gettempdir()) / "waterrev-schema-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    folder = Path(tempfile.mkdtemp(prefix="waterrev-schema-"))
    folder.chmod(0o755)  # under root, pgserver runs postgres as its own OS user
    server, base = pg.start(folder / "pgdata", cleanup=True)
    try:
        write(fresh_database(base))
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"wrote {SCHEMA_MD}")


if __name__ == "__main__":
    main()
