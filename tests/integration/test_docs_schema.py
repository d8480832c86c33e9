"""docs/SCHEMA.md is what a freshly migrated database gives, and the catalog's table map names tables
that exist (the session's database has the tests' own tables too: the document is generated from a
database of its own on the same server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from waterrev import catalog
from waterrev.local import schema_doc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fresh(db: str) -> Iterator[Engine]:
    engine = create_engine(schema_doc.fresh_database(db))
    yield engine
    engine.dispose()


def test_the_schema_document_is_current(fresh: Engine) -> None:
    """Given the migrations, the function files and the catalog, the committed docs/SCHEMA.md is what
    the generator writes (on the PostgreSQL major version it was generated on, `make docs`'s embedded
    one: another prints some defaults and constraints differently)."""
    committed = schema_doc.SCHEMA_MD.read_text(encoding="utf-8")
    with fresh.connect() as conn:
        major = schema_doc.server_major(conn)
    if f"(PostgreSQL {major})" not in committed.split("\n", 3)[2]:
        pytest.skip(f"docs/SCHEMA.md was generated on another PostgreSQL than this {major}")

    assert committed == schema_doc.schema_md(fresh), "run: make docs"


def test_every_table_the_catalog_declares_exists(fresh: Engine) -> None:
    with fresh.connect() as conn:
        tables = set(
            conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
    declared = {(i.if_id, t) for i in catalog.built() for t in (*i.reads, *i.writes)}

    assert {(if_id, t) for if_id, t in declared if t not in tables} == set()
