"""The database functions leave the migrations: each lives in one file (`waterrev/sql/functions/`),
re-created by `waterrev.migrate` whenever its text changes. This table records what was applied.

A database migrated before this revision has the functions of 0006/0008; the first upgrade that
reaches this revision finds nothing recorded and re-creates them all from their files.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DDL = r"""
CREATE TABLE schema_sql_object (
    name         VARCHAR(63) PRIMARY KEY,             -- the function, and its file's name
    sha256       CHAR(64)    NOT NULL,                -- of the file's text as last applied
    applied_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_sql_object IS
    'Database functions applied from waterrev/sql/functions/*.sql by waterrev.migrate: one row per file, the sha256 of the text last applied.';
"""

DROP = r"""
DROP TABLE IF EXISTS schema_sql_object;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(DROP)
